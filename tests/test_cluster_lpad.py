"""``mofgen lpad ARGS…``: FireWorks' lpad on the embedded store and on a server, and the
same answers as FireWorks' own ``lpad -l my_launchpad.yaml`` on the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fireworks import Firework, ScriptTask, Workflow

from mofgen.stores.connection import connect

BIN = str(Path(sys.executable).parent)


def mofgen_lpad(target: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mofgen.cli", "lpad", "--db", target, *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_fireworks(any_db_target):
    db = connect(any_db_target)
    first, second = (Firework(ScriptTask.from_str(f"echo {i}"), name=f"fw{i}",
                              spec={"_category": "cpu"}) for i in (1, 2))
    db.launchpad().add_wf(Workflow([first, second], {first: [second]}, name="pair"))
    db.close()
    return any_db_target


def test_lpad_reads_and_writes_through_mofgen_db(two_fireworks):
    target = two_fireworks
    ready = mofgen_lpad(target, "get_fws", "-s", "READY")
    assert ready.returncode == 0, ready.stderr
    first = json.loads(ready.stdout)
    assert first["name"] == "fw1" and first["state"] == "READY"
    counted = mofgen_lpad(target, "get_wflows", "-d", "count")
    assert counted.returncode == 0 and counted.stdout.strip() == "1", counted
    defused = mofgen_lpad(target, "defuse_fws", "-i", str(first["fw_id"]))
    assert defused.returncode == 0, defused.stderr
    db = connect(target, create=False)
    assert db.collection("fireworks").find_one({"name": "fw1"})["state"] == "DEFUSED"
    db.close()


@pytest.mark.parametrize("args, message", [
    ([], "give lpad arguments"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["get_fws", "-s", "NONSENSE"], "invalid choice: 'NONSENSE'"),
    (["rerun_fws", "-i", "999"], "999 not found"),
    (["-l", "my_launchpad.yaml", "get_fws"], "takes the database from --db"),
])
def test_lpad_bad_input_is_one_line(two_fireworks, args, message):
    result = mofgen_lpad(two_fireworks, *args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_lpad_without_a_store_is_one_line(tmp_path):
    result = mofgen_lpad(str(tmp_path / "nothing"), "get_fws")
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "no mofgen store" in result.stderr


def test_same_answers_as_fireworks_lpad_with_the_written_launchpad(server_target, tmp_path):
    db = connect(server_target)
    db.launchpad().add_wf(Firework(ScriptTask.from_str("echo 1"), name="only"))
    db.close()
    files = tmp_path / "files"
    subprocess.run([sys.executable, "-m", "mofgen.cli", "workers", "--write", str(files),
                    "--db", server_target], check=True, capture_output=True)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    theirs = subprocess.run(["lpad", "-l", "my_launchpad.yaml", "get_fws", "-d", "all"],
                            cwd=files, env=env, capture_output=True, text=True, timeout=120)
    ours = mofgen_lpad(server_target, "get_fws", "-d", "all")
    assert theirs.returncode == ours.returncode == 0, theirs.stderr + ours.stderr
    assert json.loads(theirs.stdout) == json.loads(ours.stdout)
    assert json.loads(ours.stdout)["name"] == "only"
