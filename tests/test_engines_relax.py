"""Cell optimisation for real: CHGNet through atomate2, and one tiny CP2K run."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from mofgen.engines.chgnet_relax import ChgnetRelaxation
from mofgen.engines.cp2k_relax import Cp2kRelaxation, find_cp2k
from mofgen.engines.results import Status
from tests.conftest import HMOF0  # noqa: E402


@pytest.mark.slow
def test_chgnet_relax_hmof0(tmp_path):
    structure = Structure.from_file(HMOF0)
    result = ChgnetRelaxation(steps=10).run(structure, tmp_path)
    assert result.status == Status.ok, result.reason
    assert result.fidelity == "mlip"
    assert -8.0 < result.energy_per_atom_eV < -5.0
    assert abs(result.volume_change) < 0.05
    assert len(Structure.from_dict(result.final_structure)) == len(structure)
    assert "chgnet" in result.software_version


def test_chgnet_child_process_and_in_process_agree(tmp_path):
    """One implementation: the campaign's child-process run and the in-process run used for
    reference phases give the same relaxation (float32 CHGNet: 1e-5 eV/atom)."""
    from mofgen.crystal.energy import load_model

    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.45), ["Fe", "O"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]])
    calc = ChgnetRelaxation(steps=50)
    child = calc.run(rocksalt, tmp_path)
    here = calc.run_in_process(rocksalt, model=load_model())
    assert child.status == here.status == Status.ok, (child.reason, here.reason)
    assert child.method == here.method == "chgnet-0.3.0"
    assert here.energy_per_atom_eV == pytest.approx(child.energy_per_atom_eV, abs=1e-5)
    assert here.n_steps == child.n_steps and here.converged == child.converged
    assert here.final_volume_A3 == pytest.approx(child.final_volume_A3, rel=1e-5)
    assert (tmp_path / "relaxed.cif").exists() and here.workdir is None


def test_chgnet_timeout_is_a_typed_failure(tmp_path):
    """A relaxation past its time limit is 'failed' with the reason, inputs kept."""
    si = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    result = ChgnetRelaxation(steps=100_000, fmax_eV_per_A=1e-9, timeout_s=1).run(si, tmp_path)
    assert result.status == Status.failed
    assert "timed out" in result.reason
    assert (tmp_path / "input.json").exists()


def test_cp2k_missing_binary_is_a_clear_failure(tmp_path):
    si = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    result = Cp2kRelaxation(executable="cp2k-not-installed").run(si, tmp_path)
    assert result.status == Status.failed
    assert "CP2K not installed" in result.reason


@pytest.mark.slow
@pytest.mark.skipif(find_cp2k() is None, reason="CP2K binary not installed (apt-get install cp2k)")
def test_cp2k_tiny_cell_opt(tmp_path):
    """One real PBE-D3 / DZVP-MOLOPT-SR-GTH cell-optimisation step on diamond Si."""
    si = Structure(Lattice.cubic(5.43), ["Si"] * 8,
                   [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                    [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75],
                    [0.25, 0.75, 0.75]])
    result = Cp2kRelaxation(max_steps=1, cutoff_Ry=150, rel_cutoff_Ry=30).run(si, tmp_path)
    assert result.status == Status.ok, result.reason
    assert result.energy_eV < -800  # 8 Si with GTH pseudopotentials: about -848 eV
    assert result.n_steps >= 1
    assert "CP2K" in result.software_version
