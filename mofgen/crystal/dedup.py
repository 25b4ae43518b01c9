"""De-duplication of crystals: one record per structure however it was written down.

``StructureMatcher`` (primitive-cell reduction, lattice reduction, element comparison)
recognises a structure that was rotated, translated, written as a supercell or in another
setting of its space group, or carries or lacks oxidation states. Matching is expensive
(lattice mappings per pair), so structures are first bucketed by a cheap pre-key and only
structures in the same bucket are matched: a new structure against N stored ones costs one
spglib call, one indexed lookup and a match per same-key entry, instead of N matches. The
pre-key is stored as an indexed field (``identifiers.crystal_key``) to fetch the bucket;
the cost per candidate then follows the size of its bucket, not of the campaign
(``benchmarks/bench_crystal_dedup.py``).

The pre-key is ``"<reduced formula>:<space group number>:<orbits>"``, where ``orbits``
lists each crystallographic orbit as element + number of sites per primitive cell (the
Wyckoff multiplicities, e.g. ``Fe2O3:167:Fe4,O6`` for corundum). Orbits are sets of atoms,
so the key does not depend on the cell, origin or axis setting a structure was written in,
and it splits a formula + space group bucket by how the atoms sit (the grouping of AFLOW's
prototype labels). Symmetry is found with spglib at symprec 0.1 A; a copy distorted enough
to change its symmetry at that tolerance lands in another bucket and is not matched (a
relaxed and an unrelaxed copy of the same phase usually keep their symmetry).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from pymatgen.analysis.structure_matcher import ElementComparator, StructureMatcher
from pymatgen.core import Structure

from mofgen.errors import InvalidInput

SYMPREC = 0.1


def matcher() -> StructureMatcher:
    """Materials Project's default tolerances; elements compared without oxidation states."""
    return StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=True, scale=True,
                            attempt_supercell=False, comparator=ElementComparator())


def prekey(structure: Structure, symprec: float = SYMPREC) -> str:
    """``"<reduced formula>:<space group number>:<orbits>"``, e.g. ``"Fe2O3:167:Fe4,O6"``.

    A structure spglib cannot analyse (overlapping atoms) gets space group 0 and no orbits:
    all such structures of one formula share a bucket.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if not isinstance(structure, Structure):
        raise InvalidInput(f"expected a pymatgen Structure, got {type(structure).__name__}")
    formula = structure.composition.element_composition.reduced_formula
    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        number = analyzer.get_space_group_number()
        # orbits of the idealised primitive cell: exact symmetry, so spglib's grouping does
        # not depend on how the input cell was written (on a supercell it can split one)
        primitive = analyzer.find_primitive()
        equivalent = SpacegroupAnalyzer(primitive, symprec=symprec).get_symmetry_dataset(
        ).equivalent_atoms
    except Exception:
        return f"{formula}:0:"
    sizes = Counter(int(i) for i in equivalent)
    orbits = sorted((primitive[i].specie.symbol, n) for i, n in sizes.items())
    return f"{formula}:{number}:" + ",".join(f"{el}{n}" for el, n in orbits)


def _same_formula(a: Structure, b: Structure) -> bool:
    return (a.composition.element_composition.reduced_formula
            == b.composition.element_composition.reduced_formula)


def find_duplicate(new: Structure, existing: Sequence[Structure],
                   sm: StructureMatcher | None = None) -> int | None:
    """Index of the first structure in ``existing`` that ``new`` duplicates, else None.

    Only same-formula structures are matched (a string comparison per entry); for large
    stores use :class:`DuplicateIndex` or a database query on :func:`prekey`.
    """
    sm = sm or matcher()
    for i, other in enumerate(existing):
        if _same_formula(new, other) and sm.fit(new, other):
            return i
    return None


def is_duplicate(new: Structure, existing: Sequence[Structure]) -> bool:
    return find_duplicate(new, existing) is not None


@dataclass
class DuplicateIndex:
    """Structures bucketed by pre-key; ``add`` returns the id of an existing duplicate."""

    symprec: float = SYMPREC
    buckets: dict[str, list[tuple[Hashable, Structure]]] = field(default_factory=dict)
    matches_run: int = 0  # StructureMatcher calls made (the expensive part)
    _sm: StructureMatcher = field(default_factory=matcher, repr=False)

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())

    def find(self, structure: Structure, key: str | None = None) -> Hashable | None:
        key = key or prekey(structure, self.symprec)
        for ident, other in self.buckets.get(key, []):
            self.matches_run += 1
            if self._sm.fit(structure, other):
                return ident
        return None

    def add(self, structure: Structure, ident: Hashable | None = None) -> Hashable | None:
        """Store ``structure`` unless it duplicates one already stored; return that one's id."""
        key = prekey(structure, self.symprec)
        match = self.find(structure, key)
        if match is None:
            self.buckets.setdefault(key, []).append((len(self) if ident is None else ident,
                                                     structure))
        return match


def unique_indices(structures: Iterable[Structure], symprec: float = SYMPREC) -> list[int]:
    """Indices of the first occurrence of every distinct structure, in input order."""
    index = DuplicateIndex(symprec=symprec)
    return [i for i, s in enumerate(structures) if index.add(s, i) is None]


def unique(structures: Sequence[Structure], symprec: float = SYMPREC) -> list[Structure]:
    """The distinct structures, first occurrence kept, in input order."""
    structures = list(structures)
    return [structures[i] for i in unique_indices(structures, symprec)]
