"""Prototypes and template substitution for a chemical system."""

from __future__ import annotations

import pytest
from pymatgen.core import Species

from mofgen.crystal.generate import candidates, ion_sets
from mofgen.crystal.prototypes import (
    parse_system,
    prototype_names,
    prototypes,
    reference_phases,
)
from mofgen.crystal.validity import check_validity
from mofgen.errors import InvalidInput

# (formula, space group number, sites in the primitive cell): what the literature says
EXPECTED_PROTOTYPES = {
    "rocksalt": ("NaCl", 225, 2), "antifluorite": ("Na2O", 225, 3), "fluorite": ("CaF2", 225, 3),
    "wurtzite": ("ZnO", 186, 4), "rutile": ("TiO2", 136, 6), "corundum": ("Al2O3", 167, 10),
    "spinel": ("MgAl2O4", 227, 14), "olivine": ("Mg2SiO4", 62, 28),
    "perovskite": ("SrTiO3", 221, 5), "layered": ("LiCoO2", 166, 4),
    "ordered-rocksalt": ("LiFeO2", 141, 8),
}


@pytest.fixture(scope="module")
def li_fe_o():
    return candidates("Li-Fe-O")


def test_prototypes_match_their_sources():
    assert set(prototype_names()) == set(EXPECTED_PROTOTYPES)
    for p in prototypes():
        formula, number, sites = EXPECTED_PROTOTYPES[p.name]
        assert (p.formula, p.structure.get_space_group_info(0.1)[1], len(p.structure)) == \
            (formula, number, sites), p.name
        assert all(isinstance(sp, Species) for sp in p.structure.species)
        assert p.source


def test_reference_phases_of_li_fe_o():
    phases = {p.name: p for p in reference_phases("Li-Fe-O")}
    assert {p.formula for p in phases.values()} == {
        "Li", "Fe", "O2", "Li2O", "FeO", "Fe2O3", "Fe3O4", "LiFeO2", "LiFe5O8"}
    assert phases["LiFe5O8"].structure.get_space_group_info(0.1)[1] == 212  # P4_332
    assert phases["Fe2O3"].structure.get_space_group_info(0.1)[1] == 167
    assert not phases["O2 (molecule)"].relax_cell
    assert {p.formula for p in reference_phases("Li-O")} == {"Li", "O2", "Li2O"}
    with pytest.raises(InvalidInput, match="no curated reference phases"):
        reference_phases("Ce-Fe-In")


def test_ion_sets_cover_mixed_valence():
    sets = {tuple(sorted(str(sp) for sp in ions)) for ions in ion_sets("Li-Fe-O")}
    assert ("Fe2+", "Fe3+", "O2-") in sets
    assert ("Li+", "O2-") in sets
    assert all(any(sp.endswith("-") for sp in s) for s in sets)  # every set has an anion


def test_candidates_are_charge_balanced_with_provenance(li_fe_o):
    formulas = {(c.formula, c.prototype) for c in li_fe_o}
    assert {("Fe2O3", "corundum"), ("Li2O", "antifluorite"), ("Fe3O4", "spinel"),
            ("LiFeO2", "layered"), ("FeO", "rocksalt")} <= formulas
    for c in li_fe_o:
        assert sum(sp.oxi_state for sp in c.structure.species) == pytest.approx(0.0)
        result = check_validity(c.structure)
        assert result.valid, f"{c.formula} from {c.prototype}: {result.reason}"
        assert {e.symbol for e in c.structure.composition.elements} <= {"Li", "Fe", "O"}
        prov = c.provenance()
        assert prov["generator"] == "substitution" and prov["prototype"] == c.prototype
        assert prov["substitution"] and 0 < prov["probability"] <= 1
    assert [c.probability for c in li_fe_o] == sorted((c.probability for c in li_fe_o),
                                                      reverse=True)
    spinel = next(c for c in li_fe_o if c.prototype == "spinel")
    assert spinel.substitution == {"Mg2+": "Fe2+", "Al3+": "Fe3+"}


def test_volumes_are_rescaled(li_fe_o):
    # corundum Al2O3 is 8.5 A^3/atom; hematite is 10.1 measured: Fe3+ is larger than Al3+
    fe2o3 = next(c for c in li_fe_o if c.formula == "Fe2O3")
    assert fe2o3.volume_scaling == "ionic-radii"
    assert 9.5 < fe2o3.structure.volume / len(fe2o3.structure) < 10.6


def test_sampling_is_deterministic(li_fe_o):
    a = candidates("Li-Fe-O", max_candidates=3, seed=7)
    b = candidates("Li-Fe-O", max_candidates=3, seed=7)
    assert len(a) == 3
    assert [(c.formula, c.prototype) for c in a] == [(c.formula, c.prototype) for c in b]
    assert all(x.structure == y.structure for x, y in zip(a, b))
    draws = {tuple(c.prototype for c in candidates("Li-Fe-O", max_candidates=3, seed=s))
             for s in range(6)}
    assert len(draws) > 1  # the seed matters


def test_bad_input():
    for system in ("Li", "Li-Li-O", "Li-Xx-O", ""):
        with pytest.raises(InvalidInput):
            parse_system(system)
    with pytest.raises(InvalidInput, match="max_candidates"):
        candidates("Li-Fe-O", max_candidates=0)
    with pytest.raises(InvalidInput, match="unknown prototype"):
        prototypes(["nope"])
    bare = prototypes(["corundum"])[0]
    object.__setattr__(bare, "structure", bare.structure.copy().remove_oxidation_states())
    with pytest.raises(InvalidInput, match="oxidation states"):
        candidates("Fe-O", prototypes=[bare])
