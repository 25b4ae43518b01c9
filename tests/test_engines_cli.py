"""The three engine commands on CIFs, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from pymatgen.core import Lattice, Structure

from tests.conftest import HMOF0  # noqa: E402


def mofgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mofgen.cli", *args],
                          capture_output=True, text=True, timeout=600)


def test_validate_structure_json(tmp_path):
    proc = mofgen("validate-structure", HMOF0, "--steps", "200", "--json",
                  "--workdir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and doc["steps"] == 200 and doc["strain"] < 0.10


def test_adsorb_rejects_dense_structure(tmp_path):
    cif = tmp_path / "zno.cif"
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.6), ["Zn", "O"],
                              [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(cif))
    proc = mofgen("adsorb", str(cif), "--cycles", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "rejected" and doc["adsorption"] is None


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("not a cif\n")
    for args in (("relax", str(bad)), ("adsorb", str(tmp_path / "missing.cif")),
                 ("validate-structure", HMOF0, "--steps", "0")):
        proc = mofgen(*args)
        assert proc.returncode == 2
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr
