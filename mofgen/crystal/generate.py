"""Template substitution: candidate crystals of a chemical system from prototype structures.

This is exa-AMD's generation step done with pymatgen's data-mined ionic substitution model
(``Substitutor``, Hautier et al., Inorg. Chem. 50, 656, 2011): for every set of ions of
the system (each element in its common oxidation states, at least one cation and one
anion), every prototype with the same number of species is tried with every assignment of
the ions to its sites; assignments whose substitution probability exceeds ``threshold``
and that stay charge-balanced become candidates. A mixed-valence set such as
{Fe2+, Fe3+, O2-} lets the spinel MgAl2O4 give Fe3O4.

Substituted ions have other radii than the template's, so each candidate is rescaled
isotropically by the mean change of (r_cation + r_anion) over the template's bonds (Shannon
radii) before anything measures distances or energies on it. pymatgen's DLS volume
predictor was tried and rejected: it puts corundum Al2O3 itself at 6.9 A^3/atom (8.5
measured) and Fe2O3 at 7.0 (10.1 measured); the radius ratio gives 10.0.

Output is deterministic: candidates are ranked by substitution probability (ties by
prototype and formula); when there are more than ``max_candidates`` a ``seed``-ed sample,
weighted by probability, is kept in rank order, so a campaign can explore beyond the top
of the list and still reproduce its draw.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Element, Species, Structure

from mofgen.crystal.prototypes import Prototype, parse_system
from mofgen.crystal.prototypes import prototypes as shipped_prototypes
from mofgen.errors import InvalidInput

GENERATOR = "substitution"


@dataclass(frozen=True)
class Candidate:
    """A generated structure and where it came from.

    ``prototype``/``substitution`` say which template and which swaps made it (empty for a
    random structure); ``probability`` is the substitution model's (None where no model
    scores it); ``extra`` holds what else a generator records (space group drawn, ...).
    """

    structure: Structure  # oxidation-state decorated or plain elements, volume rescaled
    prototype: str | None
    substitution: dict[str, str]  # template ion/element -> new one, e.g. {"Al3+": "Fe3+"}
    probability: float | None = None  # of the substitution under the data-mined model
    volume_scaling: str = "ionic-radii"  # "atomic-radii", "none": template volume kept, ...
    generator: str = GENERATOR
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula

    def provenance(self) -> dict[str, Any]:
        """What a database document records about the origin of this structure."""
        fields = {"generator": self.generator, "prototype": self.prototype,
                  "substitution": dict(self.substitution) or None,
                  "probability": self.probability, "volume_scaling": self.volume_scaling}
        return {**{k: v for k, v in fields.items() if v is not None}, **self.extra}


def ion_sets(system: str | Iterable[str], max_valences: int = 2) -> list[tuple[Species, ...]]:
    """Every set of ions (1 .. ``max_valences`` oxidation states per element) of every
    sub-system with at least two elements, one cation and one anion."""
    elements = parse_system(system)
    options: dict[str, list[tuple[Species, ...]]] = {}
    for symbol in elements:
        states = sorted(Element(symbol).common_oxidation_states)
        if not states:
            raise InvalidInput(f"{symbol} has no common oxidation state; substitution needs ions")
        options[symbol] = [tuple(Species(symbol, q) for q in combo)
                           for k in range(1, max_valences + 1)
                           for combo in itertools.combinations(states, k)
                           if len({q > 0 for q in combo}) == 1]  # one sign per element
    sets = []
    for n in range(2, len(elements) + 1):
        for subsystem in itertools.combinations(elements, n):
            for choice in itertools.product(*(options[e] for e in subsystem)):
                ions = tuple(sp for group in choice for sp in group)
                charges = [sp.oxi_state for sp in ions]
                if min(charges) < 0 < max(charges):
                    sets.append(ions)
    return sets


def _bond_scaling(template: Structure, substitution: dict[str, str]) -> float | None:
    """Mean ratio new/old of (r_cation + r_anion) over the template's first-shell
    cation-anion bonds, with Shannon radii: the isotropic length scale of the swap."""
    def radius(name: str) -> float | None:
        r = Species.from_str(name).ionic_radius
        return None if r is None else float(r)

    ratios = []
    for site in template:
        q = site.specie.oxi_state
        opposite = [n for n in template.get_neighbors(site, 4.0) if n.specie.oxi_state * q < 0]
        if not opposite:
            continue
        shell = min(n.nn_distance for n in opposite) + 0.2
        for n in opposite:
            if n.nn_distance > shell:
                continue
            a, b = str(site.specie), str(n.specie)
            old = (radius(a), radius(b))
            new = (radius(substitution.get(a, a)), radius(substitution.get(b, b)))
            if None not in old and None not in new:
                ratios.append((new[0] + new[1]) / (old[0] + old[1]))
    return float(np.mean(ratios)) if ratios else None


def _scaled(structure: Structure, template: Structure,
            substitution: dict[str, str]) -> tuple[Structure, str]:
    factor = _bond_scaling(template, substitution)
    if factor is None:
        return structure, "none"
    scaled = structure.copy()
    scaled.scale_lattice(structure.volume * factor**3)
    return scaled, "ionic-radii"


def _substitution(history: list[dict[str, Any]]) -> dict[str, str]:
    """{template ion: new ion} from a TransformedStructure's history (ions as strings)."""
    species_map = next(h["species_map"] for h in history if "species_map" in h)
    pairs = species_map.items() if isinstance(species_map, dict) else species_map

    def name(sp: Any) -> str:
        return str(Species.from_dict(sp) if isinstance(sp, dict) else sp)

    return {name(k): name(v) for k, v in pairs}


@lru_cache(maxsize=4)
def _substitutor(threshold: float) -> Any:
    """Building the model reads and hashes the whole lambda table (~3 s): do it once."""
    from pymatgen.analysis.structure_prediction.substitutor import Substitutor

    return Substitutor(threshold=threshold)


def candidates(system: str | Iterable[str], prototypes: Sequence[Prototype] | None = None,
               max_candidates: int | None = None, seed: int = 0,
               threshold: float = 1e-3) -> list[Candidate]:
    """Charge-balanced substitution candidates of ``system`` (e.g. ``"Li-Fe-O"``).

    ``prototypes`` default to the shipped ones; their species must carry oxidation states.
    """
    if max_candidates is not None and max_candidates < 1:
        raise InvalidInput(f"max_candidates must be positive, got {max_candidates}")
    protos = list(shipped_prototypes() if prototypes is None else prototypes)
    for p in protos:
        if not all(isinstance(sp, Species) and sp.oxi_state for sp in p.structure.species):
            raise InvalidInput(f"prototype {p.name} has no oxidation states on its species")
    templates = [{"structure": p.structure, "id": p.name} for p in protos]
    by_name = {p.name: p for p in protos}

    substitutor = _substitutor(float(threshold))
    allowed = set(substitutor.get_allowed_species())
    found: list[Candidate] = []
    seen: set[tuple[str, str, str]] = set()
    for ions in ion_sets(system):
        if not set(ions) <= allowed:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = substitutor.pred_from_structures(list(ions), templates)
        for ts in predicted:
            source = next(h["source"] for h in ts.history if "source" in h)
            substitution = _substitution(ts.history)
            structure, scaling = _scaled(ts.final_structure, by_name[source].structure,
                                         substitution)
            key = (source, structure.composition.reduced_formula,
                   ",".join(f"{k}>{v}" for k, v in sorted(substitution.items())))
            if key in seen:
                continue
            seen.add(key)
            found.append(Candidate(structure, source, substitution,
                                   float(ts.other_parameters["proba"]), scaling))

    found.sort(key=lambda c: (-c.probability, c.prototype, c.formula))
    if max_candidates is None or len(found) <= max_candidates:
        return found
    rng = np.random.default_rng(seed)
    weights = np.array([c.probability for c in found])
    picked = rng.choice(len(found), size=max_candidates, replace=False, p=weights / weights.sum())
    return [found[i] for i in sorted(picked)]
