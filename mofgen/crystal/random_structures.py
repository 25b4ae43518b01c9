"""Random symmetric crystals with pyxtal over SMACT-screened compositions.

The standard random-search baseline of crystal structure prediction (AIRSS-like, with
symmetry): pick a composition, a number of formula units and a space group, and let pyxtal
(Fredericks et al., Comput. Phys. Commun. 261, 107810, 2021) place the atoms on Wyckoff
positions compatible with that group. Compositions are those of every sub-system that pass
SMACT's charge-neutrality and electronegativity screen
(:func:`mofgen.crystal.compositions.screened_compositions`), taken in turn.

Attempt ``i`` is fully determined by ``(seed, i)`` (numpy ``default_rng([seed, i])`` draws
the formula units, the space groups tried and pyxtal's own random state), so a campaign
resumed at position ``i`` proposes exactly what it would have. pyxtal sizes the cell
generously (its ``factor`` 1.1 on tabulated atomic volumes); each structure is rescaled to
a volume from Slater radii (:func:`target_volume`) so the single-point screen sees a
sensible density.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Structure

from mofgen.crystal.generate import Candidate

GENERATOR = "pyxtal"
SPACEGROUP_TRIES = 8  # space groups drawn per attempt before the attempt is given up
ATTEMPTS_PER_CANDIDATE = 4  # attempts a call may spend per candidate asked for
PACKING = 0.55  # fraction of the cell filled by Slater-radius spheres (see target_volume)


@lru_cache(maxsize=8)
def compositions(system: str, max_coefficient: int, max_atoms: int) -> tuple[Composition, ...]:
    from mofgen.crystal.compositions import screened_compositions
    from mofgen.crystal.prototypes import parse_system

    return tuple(c for c in screened_compositions(parse_system(system), max_coefficient,
                                                 max_atoms) if c.num_atoms <= max_atoms)


def target_volume(structure: Structure) -> float:
    """Sum of Slater-radius spheres over ``PACKING``: within about 25 % of the measured
    volume of metals, salts and oxides (Mg 0.61, Al 0.49, NaCl 0.64, MgO 0.80, Al2O3 0.45,
    MgAl2O4 0.50 are their packing fractions of these spheres)."""
    from mofgen.crystal.compositions import atomic_radius

    spheres = sum(4 / 3 * np.pi * atomic_radius(site.specie.symbol) ** 3 for site in structure)
    return float(spheres / PACKING)


def rescale(structure: Structure) -> Structure:
    """Scale the cell to :func:`target_volume` (pyxtal's own estimate, from covalent
    volumes with its 1.1 factor, puts oxides at about 1.5 times their density)."""
    structure.scale_lattice(target_volume(structure))
    return structure


def attempt(system: str, seed: int, index: int, max_atoms: int = 16,
            max_coefficient: int = 6) -> Candidate | None:
    """Attempt ``index``: one random symmetric crystal, or None when pyxtal found none."""
    from pyxtal import pyxtal
    from pyxtal.symmetry import Group

    comps = compositions(system, max_coefficient, max_atoms)
    if not comps:
        return None
    comp = comps[index % len(comps)]
    rng = np.random.default_rng([seed, index])
    per_unit = comp.get_el_amt_dict()
    species = sorted(per_unit)
    z = int(rng.integers(1, max(1, max_atoms // int(comp.num_atoms)) + 1))
    counts = [int(per_unit[el]) * z for el in species]
    for _ in range(SPACEGROUP_TRIES):
        number = int(rng.integers(2, 231))
        state = int(rng.integers(2**31))
        if not Group(number).check_compatible(counts)[0]:
            continue
        crystal = pyxtal()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                crystal.from_random(3, number, species, counts, random_state=state)
            except Exception:  # pyxtal raises assorted errors for impossible placements
                continue
            if not crystal.valid:
                continue
            structure = crystal.to_pymatgen()
        return Candidate(rescale(structure), None, {}, None, "atomic-radii",
                         generator=GENERATOR,
                         extra={"spacegroup": number, "formula_units": z, "attempt": index,
                                "seed": seed})
    return None


def random_candidates(system: str, seed: int, cursor: int, count: int, max_atoms: int = 16,
                      max_coefficient: int = 6) -> tuple[list[Candidate], int, bool]:
    """Up to ``count`` candidates from attempts ``cursor, cursor+1, ...`` (at most
    ``ATTEMPTS_PER_CANDIDATE * count`` attempts); returns them, the next attempt and
    whether the sequence has ended (only when no composition passes the screen)."""
    if not compositions(system, max_coefficient, max_atoms):
        return [], cursor, True
    found: list[Candidate] = []
    index = cursor
    while len(found) < count and index < cursor + ATTEMPTS_PER_CANDIDATE * count:
        candidate = attempt(system, seed, index, max_atoms, max_coefficient)
        index += 1
        if candidate is not None:
            found.append(candidate)
    return found, index, False
