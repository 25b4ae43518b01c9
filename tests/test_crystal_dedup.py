"""De-duplication: rotated, translated, supercell and differently-set copies count once."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.operations import SymmOp

from mofgen.crystal.campaign import insert_crystal
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
        assert prekey(copy) == prekey(hematite) == "Fe2O3:167:Fe4,O6", name
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


def baddeleyite() -> Structure:
    """Monoclinic ZrO2 (P2_1/c, No. 14; Howard, Hill & Reichert, Acta Cryst. B 44, 116
    (1988)): three orbits of 4 sites, a low-symmetry case where settings really differ."""
    lattice = Lattice.monoclinic(5.1505, 5.2116, 5.3173, 99.23)
    return Structure.from_spacegroup("P2_1/c", lattice, ["Zr", "O", "O"],
                                     [[0.2754, 0.0395, 0.2083], [0.0700, 0.3317, 0.3447],
                                      [0.4496, 0.7569, 0.4792]])


def other_setting(s: Structure) -> Structure:
    """The same crystal in another cell choice of P2_1/c (c' = a + c, as P2_1/n to
    P2_1/c), axes relabelled (a, b, c) -> (b, c, a), origin moved to another inversion
    centre (1/2, 0, 0): other lattice parameters, other coordinates, the same atoms."""
    reset = s.copy()
    reset.make_supercell([[1, 0, 0], [0, 1, 0], [1, 0, 1]])  # unimodular: same cell volume
    matrix = reset.lattice.matrix[[1, 2, 0]]
    frac = reset.frac_coords[:, [1, 2, 0]] + [0.0, 0.0, 0.5]
    return Structure(Lattice(matrix), reset.species, frac)


def test_differently_set_copies_share_a_bucket_and_are_caught(db):
    zro2 = baddeleyite()
    reset = other_setting(zro2)
    assert len(reset) == len(zro2) == 12
    assert not np.allclose(sorted(reset.lattice.abc), sorted(zro2.lattice.abc), atol=0.1)
    assert reset.lattice.volume == pytest.approx(zro2.lattice.volume)
    assert prekey(zro2) == prekey(reset) == "ZrO2:14:O4,O4,Zr4"
    assert is_duplicate(reset, [zro2])
    first, created = insert_crystal(db, "demo", zro2)
    again, created_again = insert_crystal(db, "demo", reset)
    assert created and not created_again and again == first
    assert db.structures.count_documents({"kind": "crystal"}) == 1


def test_orbits_split_a_formula_and_space_group_bucket():
    """2H-MoS2 (S on one 4f orbit) and MoS2 in the Ni2In type (S on 2a + 2d) are both
    P6_3/mmc (No. 194): one formula + space-group bucket, two orbit keys."""
    hexagonal = Lattice.hexagonal(3.16, 12.3)
    molybdenite = Structure.from_spacegroup("P6_3/mmc", hexagonal, ["Mo", "S"],
                                            [[1 / 3, 2 / 3, 0.25], [1 / 3, 2 / 3, 0.621]])
    ni2in_type = Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(3.2, 6.2),
                                           ["Mo", "S", "S"],
                                           [[1 / 3, 2 / 3, 0.25], [0, 0, 0],
                                            [1 / 3, 2 / 3, 0.75]])
    assert prekey(molybdenite) == "MoS2:194:Mo2,S4"
    assert prekey(ni2in_type) == "MoS2:194:Mo2,S2,S2"
    assert prekey(ni2in_type.copy().make_supercell([2, 2, 1])) == "MoS2:194:Mo2,S2,S2"
