"""Star-gen's validity checks for generated crystals, each with a measured value and a source.

Star-gen (Tianhe-2 HPC-AI database, section "Experimental results", the preliminary
validity assessment of DiffCSP structures) keeps a structure only if it has

1. at most 10 chemical components (distinct elements)        -> ``components``
2. charge balance by SMACT oxidation states (electroneutrality) -> ``charge_balance``
3. a space group other than P1 ("materials in nature exhibit
   high symmetry")                                           -> ``spacegroup``

and its generator, DiffCSP, is scored with CDVAE's structural validity (Xie et al., ICLR
2022): every interatomic distance at least 0.5 A                -> ``min_distance``.

Charge balance uses SMACT's own ``smact_validity`` (ICSD-2024 oxidation states, as
Star-gen uses SMACT) with its conventions: an element or an all-metal composition (an
alloy) is balanced, and the mixed-valence elements SMACT lists (Fe, Mn, Co, ...) may take
two states, so magnetite Fe3O4 (Fe2+ Fe3+2 O4) passes. The Pauling electronegativity test
that CDVAE adds is not one of Star-gen's checks and is not applied.

The paper states no density or volume-per-atom bound, so there is none here. All checks
always run, so a rejected document records every failure, not only the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from mofgen.errors import InvalidInput

MAX_COMPONENTS = 10
MIN_SPACEGROUP = 2
MIN_DISTANCE = 0.5  # A
SYMPREC = 0.1  # A, spglib tolerance, as in Materials Project

STAR_GEN = "Star-gen (HPC-AI crystal database), preliminary validity assessment"


@dataclass(frozen=True)
class Criterion:
    """A named check: its default limit, unit, direction and where it comes from."""

    name: str
    limit: float
    unit: str
    rule: str  # how value and limit compare for a pass
    source: str


CRITERIA: dict[str, Criterion] = {c.name: c for c in (
    Criterion("components", MAX_COMPONENTS, "elements", "value <= limit",
              f"{STAR_GEN}, item 1: no more than 10 chemical components"),
    Criterion("charge_balance", 0.0, "e per formula unit", "value == limit",
              f"{STAR_GEN}, item 2: electroneutrality by SMACT oxidation states "
              "(Davies et al., JOSS 2019; smact.screening.smact_validity)"),
    Criterion("spacegroup", MIN_SPACEGROUP, "space group number", "value >= limit",
              f"{STAR_GEN}, item 3: structures in space group 1 (P1) are excluded"),
    Criterion("min_distance", MIN_DISTANCE, "A", "value >= limit",
              "CDVAE structural validity (Xie et al., ICLR 2022), the criterion DiffCSP, "
              "Star-gen's generator, is scored with"),
)}


@dataclass(frozen=True)
class Check:
    """One criterion applied: the measured value, the limit, and whether it passed."""

    name: str
    passed: bool
    value: float
    limit: float
    detail: str

    @property
    def margin(self) -> float:
        """How far past the limit a failure is (0 for a pass), in the check's unit."""
        return 0.0 if self.passed else abs(self.value - self.limit)

    @property
    def criterion(self) -> Criterion:
        return CRITERIA[self.name]

    def as_dict(self) -> dict[str, Any]:
        """What a document stores: the numbers and their unit (the source is in CRITERIA)."""
        return {"name": self.name, "passed": self.passed, "value": self.value,
                "limit": self.limit, "unit": self.criterion.unit, "detail": self.detail}


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
                "checks": [c.as_dict() for c in self.checks]}


# ---------------------------------------------------------------------------- checks
def _components(comp: Composition, max_components: int) -> Check:
    n = len(comp.elements)
    return Check("components", n <= max_components, float(n), float(max_components),
                 f"{n} elements (max {max_components})")


@lru_cache(maxsize=1)
def _smact_states() -> dict[str, list[int]]:
    """SMACT's default oxidation-state set (ICSD-2024, the one ``smact_validity`` uses)."""
    from smact.screening import ICSD24FilterConfig, _get_icsd24_oxidation_dict

    config = ICSD24FilterConfig()
    return _get_icsd24_oxidation_dict(include_zero=config.include_zero,
                                      consensus=config.consensus,
                                      commonality=config.commonality)


def _min_net_charge(comp: Composition) -> float | None:
    """Smallest |net charge| per reduced formula over one SMACT state per element (None
    when an element has no state). Only called on failures: it is a diagnostic number."""
    reduced = comp.reduced_composition
    states = _smact_states()
    choices = [states.get(el.symbol) for el in reduced.elements]
    if any(not c for c in choices):
        return None
    reachable = {0.0}
    for el, options in zip(reduced.elements, choices):  # sums, not combinations
        reachable = {round(s + reduced[el] * q, 6) for s in reachable for q in options}
    return float(min(abs(s) for s in reachable))


@lru_cache(maxsize=4096)
def _charge_balance(formula: str) -> Check:
    from smact.screening import smact_validity

    comp = Composition(formula)
    if len(comp.elements) == 1:
        return Check("charge_balance", True, 0.0, 0.0, "elemental")
    if smact_validity(comp.reduced_composition, use_pauling_test=False, include_alloys=True,
                      mixed_valence=True):
        return Check("charge_balance", True, 0.0, 0.0,
                     f"{comp.reduced_formula} balanced by SMACT oxidation states")
    net = _min_net_charge(comp)
    if net is None:
        missing = [el.symbol for el in comp.elements if not _smact_states().get(el.symbol)]
        return Check("charge_balance", False, -1.0, 0.0,
                     f"{comp.reduced_formula} not charge-balanced: SMACT has no oxidation "
                     f"state for {', '.join(missing)} (value -1: undefined)")
    return Check("charge_balance", False, net, 0.0,
                 f"{comp.reduced_formula} not charge-balanced by SMACT oxidation states "
                 f"(best single-state net charge {net:g} e per formula unit)")


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
        _charge_balance(comp.reduced_formula) if len(comp.elements) <= max_components
        else Check("charge_balance", False, -1.0, 0.0, "not assessed: too many components"),
        _spacegroup(structure, min_spacegroup, symprec),
        _min_distance(structure, min_distance),
    ))


__all__ = ["CRITERIA", "Check", "Criterion", "ValidityResult", "check_validity"]
