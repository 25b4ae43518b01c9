"""Validate stage for real: lammps-interface typing + LAMMPS NPT MD + lattice strain."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Molecule, Structure

from mofgen.engines.lammps_md import (
    PRESETS,
    NptStability,
    lattice_strain,
    read_cell_samples,
)
from mofgen.engines.results import Status
from mofgen.engines.uff_typing import type_structure
from mofgen.errors import InvalidInput
from tests.conftest import HMOF0  # noqa: E402

GENERATED = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "generated-mofs"


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
    result = NptStability(steps=2000, frames=5).run(hmof0, tmp_path)
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
    result = NptStability(steps=2000).run(bad, tmp_path)
    assert result.status in (Status.ok, Status.rejected), result.reason
    assert result.strain > 0.10 and not result.stable


@pytest.mark.slow
def test_collapsed_structure_is_rejected(hmof0, tmp_path):
    """The framework squeezed to 80 % of its cell length: rejected with the strain."""
    collapsed = hmof0.copy()
    collapsed.scale_lattice(hmof0.volume * 0.8**3)
    result = NptStability(steps=2000).run(collapsed, tmp_path)
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
    result = NptStability(steps=10_000_000, timeout_s=3).run(hmof0, tmp_path)
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


def test_mofa_strain_formula():
    """MOFA's E = C0·C1⁻¹ − I: a 10 % stretch of a gives |1/1.1 − 1| = 0.0909."""
    cell = np.diag([10.0, 12.0, 14.0])
    assert lattice_strain(cell, cell, "mofa") == pytest.approx(0.0)
    assert lattice_strain(cell, np.diag([11.0, 12.0, 14.0]), "mofa") == pytest.approx(1 / 11)
    assert lattice_strain(cell, np.diag([9.0, 12.0, 14.0]), "mofa") == pytest.approx(1 / 9)
    with pytest.raises(InvalidInput):
        lattice_strain(cell, cell, "green")


def test_presets_are_valid_and_demo_is_the_default():
    assert NptStability.from_preset("demo") == NptStability()
    mofa = NptStability.from_settings({"preset": "mofa", "steps": 1e4})  # YAML float
    assert mofa.steps == 10_000 and isinstance(mofa.steps, int)
    assert mofa.replica == (2, 2, 2) and not mofa.initial_velocities
    assert mofa.strain_formula == "mofa" and mofa.preset == "mofa"
    assert mofa.protocol()["thermostat_damp_steps"] == 200.0
    for name in PRESETS:
        NptStability.from_preset(name)
    chosen = NptStability.from_preset("demo-avg")
    assert (chosen.steps, chosen.average_last_fraction) == (2000, 0.5)
    # replica from a JSON round trip (list) comes back as a tuple
    assert NptStability(replica=[1, 2, 3]).replica == (1, 2, 3)


@pytest.mark.parametrize("settings, word", [
    ({"steps": 0}, "steps"),
    ({"steps": 2.5}, "steps"),
    ({"steps": True}, "steps"),
    ({"timestep_fs": float("nan")}, "timestep_fs"),
    ({"temperature_K": -300}, "temperature_K"),
    ({"pressure_atm": float("inf")}, "pressure_atm"),
    ({"average_last_fraction": 1.5}, "average_last_fraction"),
    ({"thermostat_damp_steps": 0}, "thermostat_damp_steps"),
    ({"seed": 0}, "seed"),
    ({"replica": [2, 2]}, "replica"),
    ({"replica": "2x2x2"}, "replica"),
    ({"strain_formula": "green"}, "strain_formula"),
    ({"initial_velocities": "yes"}, "initial_velocities"),
    ({"stable_strain": 0.3, "reject_strain": 0.2}, "reject_strain"),
    ({"minimize_steps": 100, "minimize_evals": 10}, "minimize_evals"),
    ({"sample_every": 10**9}, "sample_every"),
    ({"stepz": 100}, "stepz"),
    ({"preset": "gromacs"}, "gromacs"),
    ({"preset": 3}, "preset"),
])
def test_bad_protocol_settings_are_one_line_errors(settings, word):
    with pytest.raises(InvalidInput) as err:
        NptStability.from_settings(settings)
    message = str(err.value)
    assert word in message and "\n" not in message


def _joined(script: str) -> str:
    return " ".join(script.replace("&\n", " ").split())


@pytest.mark.slow
def test_mofa_preset_writes_minimise_npt_and_replica(tmp_path):
    """MOFA's input on a generated MOF: 2x2x2, tight fixed-cell minimise, its fix npt, no
    initial velocities; the strain uses MOFA's formula on the first/last MD cells."""
    mof = Structure.from_file(GENERATED / "gen-00.cif")
    result = NptStability.from_preset("mofa", steps=50).run(mof, tmp_path)
    assert result.status == Status.ok, result.reason
    script = _joined((tmp_path / "in.md").read_text())
    assert "minimize 1.0e-10 1.0e-10 10000 100000" in script
    assert "npt temp 300.0 300.0 $(200.0*dt) tri 1.0 1.0 $(800.0*dt)" in script
    assert "timestep 0.5" in script and "velocity" not in script
    assert script.index("minimize") < script.index("fix mdnpt") < script.index("run 50")
    assert result.supercell == (2, 2, 2) and result.n_atoms_md == 8 * len(mof)
    assert result.protocol["preset"] == "mofa" and result.protocol["replica"] == [2, 2, 2]
    assert result.protocol["overrides"] == {"steps": 50}
    c0, c1 = np.array(result.initial_cell_A) * 2, np.array(result.final_cell_A) * 2
    assert result.strain == pytest.approx(lattice_strain(c0, c1, "mofa"), rel=1e-6)


@pytest.mark.slow
def test_replica_setting_overrides_the_cutoff_rule(hmof0, tmp_path):
    """The cutoff rule gives hMOF-0 2x2x2; an explicit replica is what LAMMPS runs."""
    result = NptStability(steps=20, replica=(1, 1, 2), minimize_steps=0).run(hmof0, tmp_path)
    assert result.status == Status.ok, result.reason
    assert result.supercell == (1, 1, 2) and result.n_atoms_md == 2 * len(hmof0)
    assert f"{2 * len(hmof0)} atoms" in (tmp_path / "data.mof").read_text()
    assert "minimize" not in (tmp_path / "in.md").read_text()


@pytest.mark.slow
def test_averaged_strain_lies_within_the_sampled_strains(hmof0, tmp_path):
    maker = NptStability(steps=400, sample_every=20, average_last_fraction=0.5)
    result = maker.run(hmof0, tmp_path)
    assert result.status == Status.ok, result.reason
    samples = read_cell_samples(tmp_path / "cell.dat")
    cell0 = np.array(result.initial_cell_A) * 2  # 2x2x2 supercell
    window = [lattice_strain(cell0, c) for step, c in samples if step >= 200]
    assert len(window) == result.strain_samples >= 10
    assert min(window) <= result.strain <= max(window)
    assert result.strain == pytest.approx(np.mean(window), rel=1e-6)
    assert result.strain_sample_std == pytest.approx(np.std(window), rel=1e-6)
    assert result.strain_last_frame == pytest.approx(window[-1], rel=1e-6)  # step 400 sampled
    assert not math.isclose(result.strain, result.strain_last_frame)


@pytest.mark.slow
def test_velocity_seed_changes_the_trajectory_and_reproduces(hmof0, tmp_path):
    def final(seed: int, name: str) -> tuple[float, np.ndarray]:
        r = NptStability(steps=200, seed=seed).run(hmof0, tmp_path / name)
        assert r.status == Status.ok, r.reason
        return r.strain, Structure.from_dict(r.final_structure).cart_coords

    strain_a, xyz_a = final(11, "a")
    strain_a2, xyz_a2 = final(11, "a2")
    strain_b, xyz_b = final(12, "b")
    # same seed: the same run, up to the last bits of the box (~1e-14 Å here), far below
    # what another seed changes
    assert strain_a == pytest.approx(strain_a2, rel=1e-9)
    np.testing.assert_allclose(xyz_a, xyz_a2, atol=1e-6)
    assert abs(strain_a - strain_b) > 1e-4
    assert np.abs(xyz_a - xyz_b).max() > 1e-3  # Å


@pytest.mark.slow
def test_a_shorter_run_is_the_start_of_a_longer_one(hmof0, tmp_path):
    """One-process LAMMPS follows the same trajectory for a seed (to floating-point noise),
    so the benchmark may read a 100-step label from the cell samples of a 200-step run."""
    short = NptStability(steps=100, seed=5, sample_every=10).run(hmof0, tmp_path / "short")
    long = NptStability(steps=200, seed=5, sample_every=10).run(hmof0, tmp_path / "long")
    assert short.status == long.status == Status.ok
    samples = dict(read_cell_samples(tmp_path / "long" / "cell.dat"))
    assert lattice_strain(samples[0], samples[100]) == pytest.approx(
        short.strain_last_frame, rel=1e-6)
    assert long.strain_last_frame != short.strain_last_frame
