"""Resource guards (issue #13): every engine refuses more atoms than its limit, up front.

A 5,300-atom ``mofgen relax`` once took ~24 GB and the OOM killer. Here an oversized
structure is refused before any work directory, model or external code exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from pymatgen.core import Structure

from mofgen.campaigns import open_campaign
from mofgen.documents import StructureDoc
from mofgen.engines._tools import TooManyAtoms
from mofgen.engines.adsorption import AdsorptionScreen
from mofgen.engines.charges import ChargeEquilibration
from mofgen.engines.chgnet_relax import ChgnetRelaxation
from mofgen.engines.cp2k_relax import Cp2kRelaxation
from mofgen.engines.inputs import cif_site_rows, read_structure
from mofgen.engines.lammps_md import NptStability
from mofgen.engines.raspa import GcmcAdsorption
from mofgen.engines.zeopp import PoreAnalysis
from mofgen.states import StateMachine
from tests.conftest import HMOF0, REFERENCE

PEAK_RSS_LIMIT_KB = 2 * 1024 * 1024  # 2 GB: the refused relaxation must stay far below


def _peak_run(args: list[str]) -> dict:
    """Run ``mofgen ARGS`` from a fresh interpreter whose only child it is, and report the
    exit code, stderr and the child's peak RSS (getrusage of children, in kB)."""
    probe = textwrap.dedent(f"""
        import json, resource, subprocess, sys
        p = subprocess.run([sys.executable, "-m", "mofgen.cli", *{args!r}],
                           capture_output=True, text=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({{"rc": p.returncode, "err": p.stderr, "peak_kb": peak}}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout)


def test_an_oversized_relaxation_is_refused_with_bounded_memory(tmp_path):
    big = Structure.from_file(HMOF0) * (5, 5, 5)  # 6,625 atoms
    cif = tmp_path / "big.cif"
    big.to(filename=str(cif))
    workdir = tmp_path / "wd"
    run = _peak_run(["relax", str(cif), "--workdir", str(workdir)])
    assert run["rc"] == 2
    lines = run["err"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run["err"], run["err"]
    assert "6625 atoms, above the limit of 2000" in lines[0]
    assert run["peak_kb"] < PEAK_RSS_LIMIT_KB, run["peak_kb"]
    assert not workdir.exists()


def test_the_limit_is_on_what_is_simulated_and_configurable(tmp_path, capsys):
    from mofgen.cli import main

    # hMOF-0 has 53 atoms; LAMMPS simulates a 2x2x2 supercell of 424 for a 12.5 A cutoff
    code = main(["validate-structure", HMOF0, "--max-atoms", "400", "--workdir",
                 str(tmp_path / "wd")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "2x2x2 MD supercell has 424 atoms, above the limit of 400" in err
    assert not (tmp_path / "wd").exists()


def _calculations(limit: int):
    return [ChgnetRelaxation(max_atoms=limit), Cp2kRelaxation(max_atoms=limit),
            NptStability(max_atoms=limit), GcmcAdsorption(max_atoms=limit),
            ChargeEquilibration(max_atoms=limit), PoreAnalysis(max_atoms=limit),
            AdsorptionScreen(pores=PoreAnalysis(max_atoms=limit))]


@pytest.mark.parametrize("calc", _calculations(50), ids=lambda c: type(c).__name__)
def test_every_engine_refuses_before_its_work_directory_exists(calc, tmp_path):
    structure = Structure.from_file(HMOF0)  # 53 atoms, more than 50 in any supercell
    workdir = tmp_path / "wd"
    with pytest.raises(TooManyAtoms, match="above the limit of 50"):
        calc.run(structure, workdir)
    assert not workdir.exists()


@pytest.mark.parametrize("calc", _calculations(10_000), ids=lambda c: type(c).__name__)
def test_a_normal_mof_is_within_every_default_sized_limit(calc):
    calc.check_size(Structure.from_file(HMOF0))  # no exception


def test_in_a_campaign_the_stage_fails_with_the_reason(db, tmp_path, monkeypatch):
    from mofgen.flows._stage import run_job
    from mofgen.flows.validate import ValidateMaker

    open_campaign(db, "guard")
    doc = StructureDoc.from_structure(Structure.from_file(HMOF0), "guard")
    StateMachine(db.structures, worker="t").create(doc)
    monkeypatch.chdir(tmp_path)
    run_job(ValidateMaker(md=NptStability(max_atoms=100)), db.target, "guard", [doc.id], {})
    stored = db.structures.find_one({"_id": doc.id})
    assert stored["state"] == "failed"
    assert "424 atoms, above the limit of 100" in stored["failure"]["message"]


def test_cif_rows_are_counted_without_parsing_and_never_over_counted(tmp_path):
    for path in sorted((REFERENCE / "hmof").glob("*.cif")):
        assert cif_site_rows(path) == len(Structure.from_file(path)), path.name
    wrapped = tmp_path / "wrapped.cif"  # a row split over two lines counts once
    wrapped.write_text("data_x\n_cell_length_a 5\n_cell_length_b 5\n_cell_length_c 5\n"
                       "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
                       "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                       "_atom_site_fract_y\n_atom_site_fract_z\n"
                       "Zn1 Zn 0 0\n 0\n'O 1' O 0.5 0.5 0.5\n")
    assert cif_site_rows(wrapped) == 2
    assert cif_site_rows(tmp_path / "missing.cif") is None
    with pytest.raises(TooManyAtoms, match="lists 2 atoms, above the limit of 1"):
        read_structure(wrapped, max_atoms=1)
