"""Physical sanity (issue #13): meaningless structures are refused before any engine runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import DummySpecies, Lattice, Structure

from mofgen.campaigns import open_campaign
from mofgen.documents import StructureDoc
from mofgen.errors import InvalidInput
from mofgen.sanity import check_conditions, check_structure, ensure_sane, shortest_contact
from mofgen.states import StateMachine
from tests.conftest import HMOF0


def hmof0() -> Structure:
    return Structure.from_file(HMOF0)


def duplicated(structure: Structure, shift_A: float = 0.3) -> Structure:
    """Every atom twice, the copy ``shift_A`` away along x: the probe of the issue."""
    out = structure.copy()
    for site in structure:
        out.append(site.specie, site.coords + np.array([shift_A, 0, 0]),
                   coords_are_cartesian=True)
    return out


def test_a_real_mof_and_the_shipped_crystal_references_pass():
    from mofgen.crystal.prototypes import reference_phases

    report = check_structure(hmof0())
    assert report.ok, report.reason
    for phase in reference_phases("Li-Fe-O"):
        result = check_structure(phase.structure, elements=["Li", "Fe", "O"])
        assert result.ok, (phase.name, result.reason)


def test_every_atom_duplicated_03_A_away_is_an_overlap_with_the_number():
    report = check_structure(duplicated(hmof0()))
    assert not report.ok
    issue = report.first
    assert issue.check == "min_distance"
    assert issue.value == pytest.approx(0.3, abs=1e-6)
    assert "overlap" in report.reason and "53 close pair" in report.reason


def test_overlap_with_a_periodic_image_counts():
    # one atom in a 0.3 A cell along c: it overlaps its own image, no second atom needed
    tiny = Structure(Lattice.orthorhombic(5, 5, 0.3), ["Zn"], [[0, 0, 0]])
    issue = shortest_contact(tiny)
    assert issue is not None and issue.value == pytest.approx(0.3)
    assert "periodic image" in issue.detail


def test_covalent_fraction_catches_fused_heavy_atoms_the_05_A_floor_misses():
    s = Structure(Lattice.cubic(8), ["Zn", "Zn"], [[0, 0, 0], [0.1, 0, 0]])  # 0.8 A
    assert check_structure(s, covalent_fraction=0).ok
    report = check_structure(s)
    assert report.first.check == "min_distance" and report.first.limit == pytest.approx(1.22)


@pytest.mark.parametrize("lattice, check", [
    (np.array([[4.0, 0, 0], [4.0, 0, 0], [0, 0, 4.0]]), "volume"),  # two equal vectors
    (np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 1e-6]]), "volume"),
    (np.array([[4.0, 0, 0], [0, math.nan, 0], [0, 0, 4.0]]), "lattice"),
    (np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, math.inf]]), "lattice"),
])
def test_degenerate_or_non_finite_cells_are_refused(lattice, check):
    s = Structure(Lattice(lattice, ), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                  validate_proximity=False)
    report = check_structure(s)
    assert [i.check for i in report.issues][-1] == check, report.reason


def test_density_outside_any_known_solid():
    vacuum = Structure(Lattice.cubic(200), ["H"], [[0, 0, 0]])
    report = check_structure(vacuum)
    assert report.first.check == "density" and report.first.value < 0.05


def test_elements_outside_the_campaign_system_and_unknown_elements():
    zno = Structure(Lattice.cubic(4.0), ["Zn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    report = check_structure(zno, elements=["Fe", "Li", "O"])
    assert report.first.check == "elements" and "Zn" in report.reason
    assert "Fe-Li-O" in report.reason
    dummy = Structure(Lattice.cubic(4.0), [DummySpecies("Xx"), "O"],
                      [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert "unknown element(s) Xx" in check_structure(dummy).reason


def test_atom_limit_is_checked_without_the_neighbour_list():
    big = hmof0() * (2, 2, 2)
    report = check_structure(big, max_atoms=100)
    assert [i.check for i in report.issues] == ["n_atoms"]
    assert "424 atoms, more than the limit of 100" in report.reason


def test_ensure_sane_is_one_line_naming_the_input():
    with pytest.raises(InvalidInput) as info:
        ensure_sane(duplicated(hmof0()), "bad.cif")
    assert str(info.value).startswith("bad.cif: atoms overlap")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("temperature, pressure, bad", [
    (300, 0.1, []), (math.nan, 0.1, ["temperature"]), (300, math.inf, ["pressure"]),
    (-1, 0, ["temperature", "pressure"]), ("warm", None, ["temperature"]),
])
def test_conditions_finite_and_positive(temperature, pressure, bad):
    assert [i.check for i in check_conditions(temperature, pressure)] == bad


def test_mof_validate_stage_rejects_an_overlapping_structure_without_running_lammps(
        db, tmp_path, monkeypatch):
    from mofgen.flows._stage import run_job
    from mofgen.flows.validate import ValidateMaker

    open_campaign(db, "sane")
    doc = StructureDoc.from_structure(duplicated(hmof0()), "sane")
    StateMachine(db.structures, worker="t").create(doc)
    monkeypatch.chdir(tmp_path)
    report = run_job(ValidateMaker(), db.target, "sane", [doc.id], {})
    assert report["results"][0]["outcome"] == "rejected"
    stored = db.structures.find_one({"_id": doc.id})
    assert stored["state"] == "rejected"
    assert stored["rejection"]["stage"] == "validate"
    assert "overlap" in stored["rejection"]["reason"]
    assert stored["rejection"]["value"] == pytest.approx(0.3, abs=1e-6)
    assert stored["rejection"]["threshold"] == pytest.approx(1.22)
    assert stored["validate"]["tool"] == "mofgen.sanity"
    workdir = tmp_path / f"validate-{doc.id}"
    assert not any(workdir.iterdir())  # LAMMPS never wrote an input
