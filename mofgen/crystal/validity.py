"""Star-gen's validity checks for generated crystals, with a reason and a number for each.

The checks (Star-gen, section "structure generation"): at most 10 chemical components
(distinct elements); charge balance by oxidation states; a space group above P1 (nature
favours symmetry, and a P1 cell is usually a broken generation); plus the minimum
interatomic distance of the CDVAE/DiffCSP validity criterion (0.5 A), which Star-gen's
generator inherits. All checks always run, so a document records every failure, not just
the first.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element, Structure

from mofgen.errors import InvalidInput

MAX_COMPONENTS = 10
MIN_SPACEGROUP = 2
MIN_DISTANCE = 0.5  # A
SYMPREC = 0.1  # A, spglib tolerance, as in Materials Project


@dataclass(frozen=True)
class Check:
    """One criterion: the measured value, the limit, and whether it passed."""

    name: str
    passed: bool
    value: float
    limit: float
    detail: str

    @property
    def margin(self) -> float:
        """How far past the limit a failure is (0 for a pass), in the check's unit."""
        return 0.0 if self.passed else abs(self.value - self.limit)


@dataclass(frozen=True)
class ValidityResult:
    checks: tuple[Check, ...]

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def reason(self) -> str:
        """One line for a ``rejected`` document ('' when valid)."""
        return "; ".join(c.detail for c in self.failures)

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "reason": self.reason,
                "checks": [asdict(c) for c in self.checks]}


def _components(comp: Composition, max_components: int) -> Check:
    n = len(comp.elements)
    return Check("components", n <= max_components, float(n), float(max_components),
                 f"{n} elements (max {max_components})")


def _min_net_charge(comp: Composition) -> float:
    """Smallest |net charge| per reduced formula with one common oxidation state per
    element: how far from neutral the best single-valence assignment is."""
    reduced = comp.reduced_composition
    choices = [[(el, q) for q in (Element(el.symbol).common_oxidation_states or (0,))]
               for el in reduced.elements]
    return float(min(abs(sum(reduced[el] * q for el, q in combo))
                     for combo in itertools.product(*choices)))


def _charge_balance(comp: Composition) -> Check:
    if len(comp.elements) == 1:  # an element is neutral by definition
        return Check("charge_balance", True, 0.0, 0.0, "elemental")
    guesses = comp.reduced_composition.oxi_state_guesses(max_sites=-1)
    if guesses:
        states = ", ".join(f"{el} {q:+g}" for el, q in guesses[0].items())
        return Check("charge_balance", True, 0.0, 0.0, f"balanced as {states}")
    net = _min_net_charge(comp)
    return Check("charge_balance", False, net, 0.0,
                 f"{comp.reduced_formula} not charge-balanced by any oxidation-state guess "
                 f"(best common-state net charge {net:g} e per formula unit)")


def _spacegroup(structure: Structure, min_spacegroup: int, symprec: float) -> Check:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sga = SpacegroupAnalyzer(structure, symprec=symprec)
        symbol, number = sga.get_space_group_symbol(), sga.get_space_group_number()
    except Exception:  # spglib gives up on badly broken cells (overlapping atoms)
        symbol, number = "none", 1
    return Check("spacegroup", number >= min_spacegroup, float(number), float(min_spacegroup),
                 f"space group {symbol} ({number}) at symprec {symprec} A")


def _min_distance(structure: Structure, min_distance: float) -> Check:
    # an atom's own periodic image is as close as the shortest lattice vector
    d = float(min(structure.lattice.get_lll_reduced_lattice().abc))
    if len(structure) > 1:
        dm = structure.distance_matrix  # minimum-image distances
        d = min(d, float(dm[~np.eye(len(structure), dtype=bool)].min()))
    return Check("min_distance", d >= min_distance, d, min_distance,
                 f"shortest interatomic distance {d:.3f} A (min {min_distance} A)")


def check_validity(structure: Structure, max_components: int = MAX_COMPONENTS,
                   min_spacegroup: int = MIN_SPACEGROUP, min_distance: float = MIN_DISTANCE,
                   symprec: float = SYMPREC) -> ValidityResult:
    """Run every check on ``structure``; see :class:`ValidityResult` for the outcome."""
    if not isinstance(structure, Structure):
        raise InvalidInput(f"expected a pymatgen Structure, got {type(structure).__name__}")
    if len(structure) == 0:
        raise InvalidInput("empty structure")
    if not structure.is_ordered:
        raise InvalidInput("disordered structure (partial occupancies): order it first")
    comp = structure.composition.element_composition
    return ValidityResult((
        _components(comp, max_components),
        _charge_balance(comp),
        _spacegroup(structure, min_spacegroup, symprec),
        _min_distance(structure, min_distance),
    ))
