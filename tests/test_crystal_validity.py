"""Star-gen validity checks: each failure names its check and says by how much."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mofgen.crystal.prototypes import prototypes, reference_phases
from mofgen.crystal.validity import CRITERIA, check_validity
from mofgen.errors import InvalidInput


def test_shipped_structures_are_valid():
    for p in prototypes() + reference_phases():
        result = check_validity(p.structure)
        assert result.valid, f"{p.name}: {result.reason}"
        assert result.reason == ""


def test_too_many_components():
    symbols = ["Li", "Na", "K", "Rb", "Cs", "Mg", "Ca", "Sr", "Ba", "Al", "O"]  # 11 elements
    rng = np.random.default_rng(0)
    s = Structure(Lattice.cubic(12.0), symbols, rng.random((len(symbols), 3)))
    result = check_validity(s)
    check = result.check("components")
    assert not check.passed
    assert (check.value, check.limit, check.margin) == (11, 10, 1)
    assert "11 elements (max 10)" in result.reason


def test_charge_imbalance_reports_net_charge():
    # NaCl2 in a rock-salt-like cell: no oxidation-state assignment balances it
    s = Structure(Lattice.cubic(5.6), ["Na", "Cl", "Cl"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]])
    result = check_validity(s)
    assert not result.valid
    check = result.check("charge_balance")
    assert not check.passed and check.value == pytest.approx(1.0)  # Na+ Cl- Cl- -> -1
    assert "NaCl2 not charge-balanced" in result.reason
    assert check_validity(prototypes(["spinel"])[0].structure).check("charge_balance").passed


def test_mixed_valence_is_balanced():
    fe3o4 = reference_phases(names=["Fe3O4"])[0].structure
    check = check_validity(fe3o4).check("charge_balance")
    assert check.passed and "Fe" in check.detail


def test_p1_structure_fails_spacegroup():
    s = prototypes(["corundum"])[0].structure.copy()
    s.perturb(0.3, min_distance=0.2)  # random displacements destroy every symmetry
    result = check_validity(s)
    check = result.check("spacegroup")
    assert not check.passed and check.value == 1 and check.limit == 2
    assert "P1 (1)" in result.reason
    assert result.check("charge_balance").passed  # only the symmetry check fails


def test_overlapping_atoms_fail_min_distance():
    s = Structure(Lattice.cubic(5.0), ["Mg", "O", "O", "Mg"],
                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.56], [0.5, 0, 0]])
    result = check_validity(s)
    check = result.check("min_distance")
    assert not check.passed
    assert check.value == pytest.approx(0.3, abs=1e-6)
    assert check.margin == pytest.approx(0.2, abs=1e-6)
    assert "0.300 A (min 0.5 A)" in result.reason
    assert result.as_dict()["valid"] is False


def test_bad_input_is_invalid_input():
    with pytest.raises(InvalidInput):
        check_validity("not a structure")  # type: ignore[arg-type]
    disordered = Structure(Lattice.cubic(4), [{"Fe": 0.5, "Li": 0.5}, "O"],
                           [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InvalidInput, match="disordered"):
        check_validity(disordered)


def test_every_check_has_its_threshold_unit_and_source():
    result = check_validity(prototypes(["spinel"])[0].structure)
    assert [c.name for c in result.checks] == list(CRITERIA)
    for check in result.checks:
        criterion = check.criterion
        assert check.limit == criterion.limit and criterion.source and criterion.unit
        assert check.as_dict()["unit"] == criterion.unit
    for name in ("components", "charge_balance", "spacegroup"):
        assert "Star-gen" in CRITERIA[name].source
    assert "CDVAE" in CRITERIA["min_distance"].source
    assert "SMACT" in CRITERIA["charge_balance"].source


def test_smact_conventions_alloys_pass_unknown_states_fail():
    alloy = Structure(Lattice.cubic(2.9), ["Fe", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert check_validity(alloy).check("charge_balance").passed  # all metals: an alloy
    helium = Structure(Lattice.cubic(3.0), ["He", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    check = check_validity(helium).check("charge_balance")
    assert not check.passed and check.value == -1.0 and "He" in check.detail
