"""A process that starts children owns them: whatever ends mofgen, no engine outlives it,
no Firework stays RUNNING and no document stays leased (issue #13)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from mofgen.campaigns import open_campaign
from mofgen.documents import CampaignConfig, StructureDoc
from mofgen.states import StateMachine
from mofgen.stores.connection import connect
from tests.conftest import HMOF0
from tests.helpers.polling import wait_for

REPO = Path(__file__).resolve().parents[1]
#: validate runs LAMMPS far longer than any test waits; gpu 0: nothing is generated
LONG = {"kind": "mof", "resources": {"gpu": 0, "cpu": 1}, "queue_depth_per_worker": 1,
        "stop_grace_seconds": 1, "mof": {"md_steps": 50_000_000}}


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _engine_started(pid: int, command: str) -> list[psutil.Process] | None:
    """Every descendant of ``pid`` once ``command`` (``in.md`` for the LAMMPS MD,
    ``simulation.input`` for RASPA) runs under its watchdog."""
    procs = _descendants(pid)
    for proc in procs:
        try:
            if any(command in part for part in proc.cmdline()) and any(
                    "_watchdog.py" in part for part in proc.parent().cmdline()):
                return procs
        except (psutil.NoSuchProcess, AttributeError):
            continue
    return None


def _alive(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


def _all_gone(procs: list[psutil.Process], seconds: float = 20) -> list[str]:
    deadline = time.monotonic() + seconds
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(procs)


def _mofgen(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mofgen.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def long_campaign(db_dir, tmp_path):
    from mofgen.chemistry import assemble_mof

    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump(LONG))
    db = connect(db_dir)
    open_campaign(db, "long", CampaignConfig.model_validate(LONG))
    mof = assemble_mof(["OC(=O)c1ccc(cc1)C(=O)O"], pillar="c1cnccn1").structure
    StateMachine(db.structures, "test").create(StructureDoc.from_structure(mof, "long"))
    yield db, config
    db.close()


def _no_work_left_running(db) -> None:
    assert db.collection("fireworks").count_documents(
        {"state": {"$in": ["RUNNING", "RESERVED"]}}) == 0, "no Firework left RUNNING"
    assert db.structures.count_documents({"lock": {"$ne": None}}) == 0, "no lease left"


def test_kill_9_of_run_leaves_no_engine_process(long_campaign, db_dir):
    db, config = long_campaign
    run = _mofgen("run", "--db", db_dir, "--campaign", "long", "--config", str(config))
    procs = wait_for(lambda: _engine_started(run.pid, "in.md"), timeout_s=300)
    os.kill(run.pid, signal.SIGKILL)  # the run only, as the OOM killer would
    run.wait()
    assert _all_gone(procs) == [], "launchers and engines died with their run"
    status = subprocess.run([sys.executable, "-m", "mofgen.cli", "status", "--db", db_dir,
                             "--campaign", "long", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert json.loads(status.stdout)["campaigns"][0]["status"] == "interrupted"


@pytest.mark.parametrize("how", ["time budget", "SIGTERM"])
def test_a_stopped_run_leaves_nothing_running(long_campaign, db_dir, how):
    db, config = long_campaign
    extra = ["--minutes", "0.2"] if how == "time budget" else []
    run = _mofgen("run", "--db", db_dir, "--campaign", "long", "--config", str(config), *extra)
    procs = wait_for(lambda: _engine_started(run.pid, "in.md"), timeout_s=300)
    if how == "SIGTERM":
        run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=120)  # grace 1 s: bounded, not the task's hours
    assert run.returncode == 0, output
    assert "interrupted tasks queued again" in output
    assert _all_gone(procs) == []
    _no_work_left_running(db)
    assert db.collection("fireworks").count_documents({"state": "READY"}) == 1, \
        "the interrupted validation is queued again"
    assert db.campaigns.find_one({"_id": "long"})["status"] == "stopped"


def test_kill_9_of_adsorb_leaves_no_engine_process(tmp_path):
    run = _mofgen("adsorb", HMOF0, "--cycles", "1000000")
    procs = wait_for(lambda: _engine_started(run.pid, "simulation.input"), timeout_s=300)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert _all_gone(procs) == [], "RASPA died with its mofgen adsorb"
