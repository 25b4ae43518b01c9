"""Partial charges for real: EQeq (numpy), CP2K DDAPC, the ``mofgen charges`` command and
the campaign's ``charge_method`` setting.

Reference charges are the literature charges that RASPA2's structure library ships in its
CIFs (MIL-47: V +1.68, O -0.54 e on average; Zn-DOBDC: Zn +1.21 e).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from mofgen.engines._tools import EngineError, TooManyAtoms
from mofgen.engines.charges import ChargeEquilibration
from mofgen.engines.cp2k_charges import Cp2kCharges, parse_ddapc, unpaired_electrons
from mofgen.engines.cp2k_relax import find_cp2k
from mofgen.engines.eqeq import EqeqCharges, atom_parameters, equilibrate
from mofgen.engines.inputs import cif_charges, read_structure
from mofgen.engines.results import Status


def raspa_cif(name: str) -> Path:
    import RASPA2

    return Path(RASPA2.__file__).parent / "share" / "raspa" / "structures" / "cif" / name


@pytest.fixture(scope="module")
def mil47():
    path = raspa_cif("MIL-47.cif")
    structure = read_structure(path)
    return structure, np.array(cif_charges(path, structure))


def _symbols(structure: Structure) -> np.ndarray:
    return np.array([site.specie.symbol for site in structure])


# ----------------------------------------------------------------------------- EQeq
def test_parameters_follow_the_paper_from_ionisation_data():
    # hydrogen: IP 13.598 eV and the paper's electron affinity of -2.0 eV
    chi, hardness, centre = atom_parameters("H")
    assert (chi, hardness, centre) == pytest.approx((0.5 * (13.598 - 2.0), 15.598, 0))
    # Cu expanded around Cu2+: J = IP3 - IP2, chi = (IP3 + IP2)/2 - 2 J (CRC: 36.83, 20.292)
    chi, hardness, centre = atom_parameters("Cu")
    assert centre == 2 and hardness == pytest.approx(36.83 - 20.292)
    assert chi == pytest.approx(0.5 * (36.83 + 20.292) - 2 * (36.83 - 20.292))
    # oxygen around the neutral atom: J = IP1 - EA
    assert atom_parameters("O")[1] == pytest.approx(13.618 - 1.46111)


def test_eqeq_is_neutral_with_the_chemical_signs(mil47, tmp_path):
    structure, _ = mil47
    result = EqeqCharges().run(structure, tmp_path)
    assert result.status == Status.ok and result.method == "eqeq"
    q, symbols = np.array(result.charges), _symbols(structure)
    assert abs(q.sum()) < 1e-8 and abs(result.total_charge_e) < 1e-8
    assert np.all(q[symbols == "V"] > 1.0) and np.all(q[symbols == "O"] < -0.3)
    assert np.all(q[symbols == "H"] > 0)
    # the CIF that GCMC reads carries the same charges
    charged = Structure.from_file(result.cif_file)
    assert len(charged) == len(structure)
    assert "_atom_site_charge" in Path(result.cif_file).read_text()


def test_eqeq_agrees_with_literature_charges(mil47):
    """Per-atom MAE against the CIF's charges below 0.15 e, metal within 0.2 e.

    The CIF's charges are themselves one DFT-derived (electrostatic-potential) scheme; two
    such schemes on the same MOF differ per atom by ~0.1 e, more on metals, and EQeq (no
    parameter fitted to any MOF) is not expected to beat that spread. A broken Ewald sum,
    a wrong charge centre or hardness puts the metal off by 0.5 e or more (QEq's V here
    diverges to 6 e), which this catches.
    """
    structure, reference = mil47
    q = equilibrate(structure, EqeqCharges())
    assert np.abs(q - reference).mean() < 0.15
    metal = _symbols(structure) == "V"
    assert abs(q[metal].mean() - reference[metal].mean()) < 0.2
    zn = raspa_cif("Zn-DOBDC.cif")
    dobdc = read_structure(zn)
    ref = np.array(cif_charges(zn, dobdc))
    q = equilibrate(dobdc, EqeqCharges())
    assert np.abs(q - ref).mean() < 0.15
    metal = _symbols(dobdc) == "Zn"
    assert abs(q[metal].mean() - ref[metal].mean()) < 0.2


def test_eqeq_periodic_sum_is_converged(mil47):
    """A converged Ewald sum gives the same charges for a cell, its supercell and a
    longer real-space cutoff (the reference code's ±2-cell truncation does not)."""
    structure, _ = mil47
    q = equilibrate(structure, EqeqCharges())
    assert np.abs(equilibrate(structure, EqeqCharges(real_cutoff_A=20.0)) - q).max() < 1e-5
    doubled = equilibrate(structure * (1, 2, 1), EqeqCharges()).reshape(len(structure), 2)
    assert np.abs(doubled - q[:, None]).max() < 1e-5


def test_eqeq_unknown_element_fails_with_a_reason(tmp_path):
    pu = Structure(Lattice.cubic(6.0), ["Pu", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    result = EqeqCharges().run(pu, tmp_path)
    assert result.status == Status.failed and "Pu" in result.reason


def test_every_charge_method_refuses_before_its_work_directory_exists(mil47, tmp_path):
    structure, _ = mil47
    for calc in (EqeqCharges(max_atoms=50), Cp2kCharges(max_atoms=50),
                 ChargeEquilibration(max_atoms=50)):
        with pytest.raises(TooManyAtoms, match="above the limit of 50"):
            calc.run(structure, tmp_path / "wd")
        assert not (tmp_path / "wd").exists()


# ----------------------------------------------------------------------------- CP2K
def test_ddapc_parser_needs_one_charge_per_atom():
    text = ("  DDAP FULL DENSITY charges:\n  Atom     |    Charge\n\n"
            "     1  O    -0.614539\n     2  H     0.307270\n     3  H     0.307270\n"
            "  Total       0.000001\n")
    assert parse_ddapc(text, 3) == pytest.approx([-0.614539, 0.307270, 0.307270], abs=1e-6)
    with pytest.raises(EngineError, match="3 charges for 4 atoms"):
        parse_ddapc(text, 4)
    with pytest.raises(EngineError, match="no DDAPC"):
        parse_ddapc("SCF run converged\n", 3)


def test_open_shell_metals_run_high_spin():
    cu = Structure(Lattice.cubic(5), ["Cu", "Cu", "O"], [[0, 0, 0], [.5, .5, .5], [.5, 0, 0]])
    assert unpaired_electrons(cu) == 2  # Cu2+ d9
    zn = Structure(Lattice.cubic(5), ["Zn", "O"], [[0, 0, 0], [.5, .5, .5]])
    assert unpaired_electrons(zn) == 0  # Zn2+ d10


@pytest.mark.skipif(find_cp2k() is None, reason="CP2K not installed (apt-get install cp2k)")
def test_cp2k_ddapc_of_a_periodic_water_box(tmp_path):
    """One PBE single point (~10 s): DDAPC charges of water in a 6 Å periodic box.

    The DDAPC charge of water's O is about -0.6 to -0.8 e with PBE (the TIP3P model uses
    -0.834); the two H are symmetric and carry the rest.
    """
    water = Structure(Lattice.cubic(6.0), ["O", "H", "H"],
                      [[3.0, 3.0, 3.0], [3.757, 3.586, 3.0], [2.243, 3.586, 3.0]],
                      coords_are_cartesian=True)
    result = Cp2kCharges(cutoff_Ry=250, rel_cutoff_Ry=40).run(water, tmp_path)
    assert result.status == Status.ok, result.reason
    assert result.method == "ddapc/pbe" and result.software_version.startswith("CP2K")
    o, h1, h2 = result.charges
    assert -0.9 < o < -0.4 and h1 == pytest.approx(h2, abs=1e-3) and h1 > 0.2
    assert abs(sum(result.charges)) < 1e-6


# ----------------------------------------------------------------------------- CLI
def mofgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mofgen.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_charges_command_prints_sites_and_method(tmp_path):
    cif = str(raspa_cif("MIL-47.cif"))
    proc = mofgen("charges", cif, "--json", "--workdir", str(tmp_path / "wd"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and doc["method"] == "eqeq" and len(doc["charges"]) == 72
    assert abs(sum(doc["charges"])) < 1e-6
    proc = mofgen("charges", cif)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "method: eqeq" in lines[1]
    assert sum(1 for ln in lines if ln.split()[1:2] == ["V"]) == 4


@pytest.mark.parametrize("args, message", [
    (("missing.cif",), "no such file"),
    (("bad.cif",), "cannot read a crystal structure"),
    (("MIL-47", "--method", "ddec"), "invalid choice"),
    (("MIL-47", "--max-atoms", "0"), "--max-atoms"),
    (("MIL-47", "--method", "dft", "--max-atoms", "10"), "above the limit of 10"),
    (("overlap.cif",), "apart"),
])
def test_charges_command_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "bad.cif").write_text("data_x\n_cell_length_a 5\n")
    Structure(Lattice.cubic(8.0), ["Zn", "O"], [[0, 0, 0], [0.01, 0, 0]]).to(
        filename=str(tmp_path / "overlap.cif"))
    names = {"MIL-47": str(raspa_cif("MIL-47.cif"))}
    argv = [names.get(a, str(tmp_path / a) if a.endswith(".cif") else a) for a in args]
    proc = mofgen("charges", *argv)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert message in proc.stderr


# ------------------------------------------------------------------ campaign setting
def test_charge_method_setting_builds_the_simulate_calculation():
    from mofgen.documents import CampaignConfig
    from mofgen.kinds import get_kind

    makers = get_kind("mof").makers(CampaignConfig.model_validate({"kind": "mof"}))
    assert isinstance(makers["simulate"].charges, EqeqCharges)  # the benchmark's default
    config = CampaignConfig.model_validate({"kind": "mof", "mof": {"charge_method": "qeq"}})
    assert isinstance(get_kind("mof").makers(config)["simulate"].charges,
                      ChargeEquilibration)
    config = CampaignConfig.model_validate(
        {"kind": "mof", "mof": {"charge_method": "dft", "fidelity": "dft"}})
    assert isinstance(get_kind("mof").makers(config)["simulate"].charges, Cp2kCharges)
    with pytest.raises(ValidationError, match="charge_method dft needs fidelity dft"):
        CampaignConfig.model_validate({"kind": "mof", "mof": {"charge_method": "dft"}})
