"""Which compositions of a chemical system are worth a structure: SMACT's screen, and radii.

SMACT (Davies et al., Chem 1, 617, 2016; J. Open Source Softw. 4, 1361, 2019) keeps a
composition when some assignment of the elements' known oxidation states is charge-neutral
*and* the cations are less electronegative than the anions (Pauling test); compositions of
metals only pass as alloys (SMACT's ``include_alloys``). Both generators and the reference
builder ask this one function, so they agree on what "sensible" means.

Radii are Slater's empirical atomic radii (J. Chem. Phys. 41, 3199, 1964; pymatgen's
``Element.atomic_radius``): their sums reproduce first-shell distances of ionic and
metallic solids to a few per cent (Na-Cl 2.80 vs 2.82 A, Mg-O 2.10 vs 2.11 A), which is
what a starting volume needs before CHGNet relaxes it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache

from pymatgen.core import Composition, Element

DEFAULT_RADIUS = 1.5  # A, for the few elements without a tabulated radius


@lru_cache(maxsize=4096)
def passes_smact(formula: str) -> bool:
    """SMACT's charge-neutrality + Pauling electronegativity screen (alloys pass)."""
    from smact.screening import smact_validity

    comp = Composition(formula)
    if len(comp.elements) < 2:
        return True  # an element is neutral by definition
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(smact_validity(comp.reduced_formula, use_pauling_test=True,
                                       include_alloys=True))
        except (KeyError, ValueError, TypeError):  # an element SMACT has no data for
            return False


@lru_cache(maxsize=256)
def atomic_radius(symbol: str) -> float:
    """Slater's atomic radius (A), else pymatgen's calculated one, else 1.5 A."""
    el = Element(symbol)
    with warnings.catch_warnings():  # "No data available for ..." for a few heavy elements
        warnings.simplefilter("ignore")
        for value in (el.atomic_radius, el.atomic_radius_calculated):
            if value is not None and math.isfinite(float(value)) and float(value) > 0:
                return float(value)
    return DEFAULT_RADIUS


def screened_compositions(elements: Sequence[str], max_coefficient: int = 6,
                          max_atoms: int = 12, min_elements: int = 2) -> list[Composition]:
    """Reduced compositions of every sub-system (``min_elements`` or more of ``elements``)
    with coefficients 1..``max_coefficient`` and at most ``max_atoms`` atoms per formula
    unit that pass :func:`passes_smact`, fewest atoms first (ties by formula)."""
    found: dict[str, Composition] = {}
    for n in range(min_elements, len(elements) + 1):
        for subsystem in itertools.combinations(sorted(elements), n):
            for coefficients in itertools.product(range(1, max_coefficient + 1), repeat=n):
                if sum(coefficients) > max_atoms or math.gcd(*coefficients) != 1:
                    continue
                comp = Composition(dict(zip(subsystem, coefficients)))
                if comp.reduced_formula not in found and passes_smact(comp.reduced_formula):
                    found[comp.reduced_formula] = comp
    return sorted(found.values(), key=lambda c: (c.num_atoms, c.reduced_formula))


def elements_of(compositions: Iterable[Composition]) -> set[str]:
    return {el.symbol for comp in compositions for el in comp.elements}
