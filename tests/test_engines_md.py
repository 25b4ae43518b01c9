"""Validate stage for real: lammps-interface typing + LAMMPS NPT MD + lattice strain."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Molecule, Structure

from mofgen.engines.lammps_md import StabilityMaker, lattice_strain
from mofgen.engines.results import Status
from mofgen.engines.uff_typing import type_structure
from tests.conftest import HMOF0  # noqa: E402


@pytest.fixture(scope="module")
def hmof0() -> Structure:
    return Structure.from_file(HMOF0)


def test_lattice_strain_definition():
    cell = np.diag([10.0, 10.0, 10.0])
    assert lattice_strain(cell, cell) == pytest.approx(0.0)
    assert lattice_strain(cell, np.diag([11.0, 10.0, 10.0])) == pytest.approx(0.1)
    sheared = cell.copy()
    sheared[1, 0] = 2.0  # b tilted by 2 Å: symmetric part has eigenvalues ±0.1
    assert lattice_strain(cell, sheared) == pytest.approx(0.1)


@pytest.mark.slow
def test_hmof0_is_stable(hmof0, tmp_path):
    """hMOF-0 (IRMOF-1 analogue) keeps its cell under UFF4MOF NPT MD: strain < 0.10."""
    result = StabilityMaker(steps=2000, frames=5).run(hmof0, tmp_path)
    assert result.status == Status.ok, result.reason
    assert result.strain is not None and result.strain < 0.10
    assert result.stable
    assert result.supercell == (2, 2, 2)  # 12.76 Å cell, 12.5 Å cutoff
    assert result.n_atoms_md == 8 * len(hmof0)
    assert result.ff_types["Zn3f2"] == 32  # UFF4MOF's Zn4O type
    assert 2 <= result.frames_kept <= 7
    final = Structure.from_dict(result.final_structure)
    assert len(final) == result.n_atoms_md
    assert (tmp_path / "traj.lammpstrj").exists() and (tmp_path / "final_cell.cif").exists()
    assert result.software_version.startswith(("2", "1"))


@pytest.mark.slow
def test_distorted_structure_gives_large_strain(hmof0, tmp_path):
    """A rattled (0.2 Å), strained (+25/-15/+10 %) framework: large strain, not stable."""
    rng = np.random.default_rng(7)
    bad = Structure(hmof0.lattice, hmof0.species,
                    hmof0.cart_coords + rng.normal(0.0, 0.2, (len(hmof0), 3)),
                    coords_are_cartesian=True)
    bad.apply_strain([0.25, -0.15, 0.10])
    result = StabilityMaker(steps=2000).run(bad, tmp_path)
    assert result.status in (Status.ok, Status.rejected), result.reason
    assert result.strain > 0.10 and not result.stable


@pytest.mark.slow
def test_collapsed_structure_is_rejected(hmof0, tmp_path):
    """The framework squeezed to 80 % of its cell length: rejected with the strain."""
    collapsed = hmof0.copy()
    collapsed.scale_lattice(hmof0.volume * 0.8**3)
    result = StabilityMaker(steps=2000).run(collapsed, tmp_path)
    assert result.status == Status.rejected
    assert "strain" in result.reason or "unstable" in result.reason


def test_sp3_sulfur_typed_through_uff_fallback(tmp_path):
    """lammps-interface 0.2.2 alone dies with KeyError 'S_3'; our layer maps it to S_3+2."""
    dms = Molecule(["S", "C", "C", "H", "H", "H", "H", "H", "H"],
                   [[0, 0, 0], [1.81, 0, 0], [-0.45, 1.75, 0], [2.17, -1.03, 0],
                    [2.17, 0.51, 0.89], [2.17, 0.51, -0.89], [-1.54, 1.80, 0],
                    [-0.08, 2.27, 0.89], [-0.08, 2.27, -0.89]])
    typed = type_structure(dms.get_boxed_structure(8, 8, 8), tmp_path)
    assert typed.fallback_types == {"S_3": "S_3+2"}
    assert "S_3" in typed.ff_types
    assert typed.data_file.exists() and "read_data" in typed.header


def test_md_timeout_is_a_typed_failure(hmof0, tmp_path):
    """A run past its time limit is 'failed' with the reason, inputs kept."""
    result = StabilityMaker(steps=10_000_000, timeout_s=3).run(hmof0, tmp_path)
    assert result.status == Status.failed
    assert "timed out" in result.reason
    assert (tmp_path / "in.md").exists() and (tmp_path / "data.mof").exists()


def test_degenerate_bonded_terms_are_dropped_and_counted(tmp_path):
    """lammps-interface can write a dihedral i-j-k-i (3-rings, small cells); LAMMPS refuses."""
    from mofgen.engines.uff_typing import drop_degenerate_terms

    data = tmp_path / "data.mof"
    data.write_text("\n".join([
        "test", "", "4 atoms", "2 angles", "3 dihedrals", "", "Angles", "",
        "1 1 1 2 3", "2 1 2 3 2", "", "Dihedrals", "",
        "1 1 1 2 3 4", "2 1 3 1 2 3", "3 2 4 3 2 1", "",
    ]) + "\n")
    assert drop_degenerate_terms(data) == {"angles": 1, "dihedrals": 1}
    text = data.read_text()
    assert "1 angles" in text and "2 dihedrals" in text
    dihedrals = text.split("Dihedrals")[1].split()
    assert dihedrals == ["1", "1", "1", "2", "3", "4", "2", "2", "4", "3", "2", "1"]
