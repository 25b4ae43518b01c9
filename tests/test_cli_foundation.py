"""The CLI contract: one clear error line and a non-zero exit for bad input, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mofgen.campaigns import open_campaign
from mofgen.documents import StructureDoc
from mofgen.states import StateMachine
from mofgen.stores.connection import connect
from tests.conftest import small_structure


def mofgen(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mofgen.cli", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_and_version():
    result = mofgen("--help")
    assert result.returncode == 0 and "status" in result.stdout
    assert mofgen("--version").stdout.startswith("mofgen ")


def test_status_json_reports_states_and_reached(db_dir):
    db = connect(db_dir)
    open_campaign(db, "demo")
    machine = StateMachine(db.structures, worker="t")
    for i in range(3):
        machine.create(StructureDoc.from_structure(small_structure(i), "demo"))
    doc = machine.claim("validate", "demo")
    machine.complete(doc["_id"], "validate", {"strain": 0.04})
    db.close()

    result = mofgen("status", "--db", db_dir, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (campaign,) = report["campaigns"]
    assert campaign["states"]["generated"] == 2 and campaign["states"]["validated"] == 1
    assert campaign["reached"]["generated"] == 3 and campaign["reached"]["validated"] == 1
    best = {column["key"]: column for column in campaign["best"]}
    assert best["strain"]["top"][0]["value"] == 0.04 and best["strain"]["order"] == "asc"
    assert set(campaign["queues"]) >= {"gpu", "cpu", "mpi"}
    human = mofgen("status", "--db", db_dir, "--campaign", "demo")
    assert "validated=1" in human.stdout


def test_db_from_environment(db_dir):
    connect(db_dir).close()
    result = mofgen("status", "--json", env={"MOFGEN_DB": db_dir})
    assert result.returncode == 0 and json.loads(result.stdout)["db"].endswith("store")


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["status", "--db", "/nonexistent/mofgen"], ["no mofgen store"]),
        (["status", "--db", "postgres://host/db"], ["must be a mongodb://"]),
        (["status", "--db", "mongodb://127.0.0.1:9/mofgen"], ["cannot reach MongoDB"]),
        (["status", "--db", "mongodb://user:secret@127.0.0.1:9/x"], ["user:***@"]),
        (["status", "--bogus"], ["unrecognized arguments"]),
        (["frobnicate"], ["invalid choice"]),
    ],
)
def test_bad_input_gives_one_line(args, fragments):
    result = mofgen(*args)
    assert_one_line_error(result, *fragments)
    assert "secret" not in result.stderr


def test_unknown_campaign(db_dir):
    db = connect(db_dir)
    open_campaign(db, "known")
    db.close()
    assert_one_line_error(mofgen("status", "--db", db_dir, "--campaign", "nope"),
                          "unknown campaign 'nope'", "known")


def test_corrupt_store_is_refused_and_left_alone(tmp_path):
    store = tmp_path / "broken"
    store.mkdir()
    (store / "mofgen.sqlite").write_bytes(b"this is not a database" * 100)
    before = (store / "mofgen.sqlite").read_bytes()
    assert_one_line_error(mofgen("status", "--db", str(store)), "not a mofgen embedded store")
    assert (store / "mofgen.sqlite").read_bytes() == before


def test_unwritable_or_unsuitable_directories(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(Exception, match="is a file"):
        connect(str(a_file))
    with pytest.raises(Exception, match="cannot create the embedded store"):
        connect("/proc/mofgen-cannot-be-here")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="not empty and holds no mofgen store"):
        connect(str(other))
