"""De-duplication: rotated, translated and supercell copies count once."""

from __future__ import annotations

import pytest
from pymatgen.core.operations import SymmOp

from mofgen.crystal.dedup import (
    DuplicateIndex,
    find_duplicate,
    is_duplicate,
    prekey,
    unique,
    unique_indices,
)
from mofgen.crystal.prototypes import prototypes, reference_phases
from mofgen.errors import InvalidInput


@pytest.fixture(scope="module")
def hematite():
    return reference_phases(names=["Fe2O3"])[0].structure


def copies(s):
    """The same crystal rotated, translated, and as a 4x supercell (40 atoms)."""
    rotated = s.copy()
    rotated.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0))
    translated = s.copy()
    translated.translate_sites(list(range(len(s))), [0.13, 0.27, 0.41])
    supercell = s.copy()
    supercell.make_supercell([[1, 1, 0], [-1, 1, 0], [0, 0, 2]])
    return {"rotated": rotated, "translated": translated, "supercell": supercell}


def test_copies_are_duplicates(hematite):
    for name, copy in copies(hematite).items():
        assert prekey(copy) == prekey(hematite) == "Fe2O3:167", name
        assert is_duplicate(copy, [hematite]), name
    assert len(copies(hematite)["supercell"]) == 4 * len(hematite)


def test_oxidation_states_do_not_matter(hematite):
    decorated = hematite.copy()
    decorated.add_oxidation_state_by_element({"Fe": 3, "O": -2})
    assert is_duplicate(decorated, [hematite])


def test_different_structures_are_not_duplicates(hematite):
    rocksalt_feo = reference_phases(names=["FeO"])[0].structure
    wurtzite_feo = prototypes(["wurtzite"])[0].structure.copy()
    wurtzite_feo.replace_species({"Zn2+": "Fe2+"})
    assert not is_duplicate(wurtzite_feo, [rocksalt_feo])  # same formula, other structure
    fe3o4 = reference_phases(names=["Fe3O4"])[0].structure
    assert find_duplicate(hematite, [fe3o4, rocksalt_feo, hematite]) == 2


def test_unique_keeps_first_occurrence(hematite):
    fe3o4 = reference_phases(names=["Fe3O4"])[0].structure
    c = copies(hematite)
    batch = [hematite, fe3o4, c["rotated"], c["translated"], c["supercell"], fe3o4.copy()]
    assert unique_indices(batch) == [0, 1]
    assert [s.composition.reduced_formula for s in unique(batch)] == ["Fe2O3", "Fe3O4"]


def test_index_matches_only_within_a_bucket(hematite):
    index = DuplicateIndex()
    others = [p.structure for p in prototypes()]  # 11 distinct formulas / space groups
    for i, s in enumerate(others):
        assert index.add(s, f"proto-{i}") is None
    assert index.matches_run == 0  # every pre-key was new: no StructureMatcher call at all
    assert index.add(hematite, "hematite") is None
    for copy in copies(hematite).values():
        assert index.add(copy) == "hematite"
    assert index.matches_run == 3  # one match per copy, none against the other buckets
    assert len(index) == len(others) + 1


def test_prekey_rejects_non_structures():
    with pytest.raises(InvalidInput):
        prekey({"lattice": []})  # type: ignore[arg-type]
