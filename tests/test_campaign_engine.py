"""The campaign engine with real launchers and real codes (small settings).

Structures are Zn paddle-wheel pillared MOFs built by the assembler from known linkers;
validation runs LAMMPS, simulation CHGNet + QEq + Zeo++, adsorption RASPA2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mofgen.campaigns import open_campaign
from mofgen.documents import CampaignConfig, StructureDoc
from mofgen.launchers.fireworks import stage_workflow, submit
from mofgen.launchers.local import LocalLaunchers
from mofgen.states import StateMachine
from mofgen.stores.connection import connect
from tests.helpers.polling import wait_for

REPO = Path(__file__).resolve().parents[1]
LINKERS = [
    ("OC(=O)c1ccc(cc1)C(=O)O", "C1CN2CCN1CC2"),  # Zn2(BDC)2(DABCO)
    ("OC(=O)c1ccc(cc1)C(=O)O", "c1cnccn1"),  # Zn2(BDC)2(pyrazine)
    ("Nc1cc(C(=O)O)ccc1C(=O)O", "c1cnccn1"),  # Zn2(NH2-BDC)2(pyrazine)
]
SMALL = {"md_steps": 100, "relax_steps": 5, "gcmc_cycles": 20,
         "resources": {"gpu": 0, "cpu": 1}, "queue_depth_per_worker": 1}


@pytest.fixture(scope="module")
def pillared_mofs():
    from mofgen.chemistry import assemble_mof

    return [assemble_mof([linker], pillar=pillar).structure for linker, pillar in LINKERS]


def seed(db, campaign: str, structures) -> list[str]:
    open_campaign(db, campaign)
    machine = StateMachine(db.structures, worker="seed")
    ids = []
    for structure in structures:
        doc = StructureDoc.from_structure(structure, campaign)
        assert machine.create(doc)
        ids.append(doc.id)
    return ids


def test_two_launchers_never_process_the_same_structure_twice(db, tmp_path, pillared_mofs):
    """Every structure is queued twice; two cpu launchers race for the Fireworks."""
    from mofgen.engines.lammps_md import NptStability
    from mofgen.flows.validate import ValidateMaker

    ids = seed(db, "pair", pillared_mofs)
    maker = ValidateMaker(md=NptStability(steps=100))
    workflows = [stage_workflow(maker.make(db.target, "pair", [doc_id]), db, "pair", "validate",
                                "cpu", 1, doc_ids=[doc_id]) for doc_id in ids for _ in range(2)]
    submit(db, workflows)
    launchers = LocalLaunchers(db.target, {"cpu": 2}, str(tmp_path / "launches"))
    launchers.start()
    try:
        wait_for(lambda: db.collection("fireworks").count_documents(
            {"state": {"$in": ["READY", "RESERVED", "RUNNING"]}}) == 0)
    finally:
        launchers.shutdown()
    names = {launch["fworker"]["name"] for launch in db.collection("launches").find()}
    assert names == {"local-cpu-0", "local-cpu-1"}, "both launchers took work"
    outcomes = [result["outcome"] for doc in db.collection("outputs").find()
                for result in doc["output"]["results"]]
    assert sorted(outcomes).count("skipped") == len(ids), "each duplicate found its document taken"
    for doc in db.structures.find({"campaign": "pair"}):
        validated = [h for h in doc["history"] if h["to"] in ("validated", "rejected")]
        assert len(validated) == 1 and doc["attempts"]["validate"] == 1
        assert 0 <= doc["validate"]["strain"] < 0.25


def _run(db_dir: str, config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mofgen.cli", "run", "--db", db_dir, "--campaign", "resume",
         "--config", str(config), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def test_kill_minus_9_then_resume(db_dir, tmp_path, pillared_mofs):
    config = tmp_path / "campaign.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    db = connect(db_dir)
    open_campaign(db, "resume", CampaignConfig.model_validate(SMALL))
    ids = seed(db, "resume", pillared_mofs)

    first = _run(db_dir, config, "--max-structures", "3", "--minutes", "20")

    def finished_one_and_busy():
        done = db.structures.count_documents({"campaign": "resume", "state": {"$ne": "generated"}})
        leased = db.structures.find_one({"campaign": "resume", "lock": {"$ne": None}})
        return leased if done >= 1 and leased else None

    interrupted = wait_for(finished_one_and_busy)
    before = {d["_id"]: d["history"] for d in db.structures.find({"campaign": "resume"})}
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(1.5)  # orphaned launchers notice their parent is gone and exit

    second = _run(db_dir, config, "--max-structures", "3", "--minutes", "20")
    output, _ = second.communicate(timeout=900)
    assert second.returncode == 0, output
    assert "resumed after an interrupted run" in output

    for doc in db.structures.find({"campaign": "resume"}):
        reached = [h["to"] for h in doc["history"]]
        assert doc["history"][: len(before[doc["_id"]])] == before[doc["_id"]], "nothing lost"
        assert len(reached) == len(set(reached)), f"a stage ran twice: {reached}"
        assert doc["state"] in ("adsorbed", "rejected", "failed"), doc["state"]
        assert "lock" not in doc
        StructureDoc.from_mongo(doc)  # what the stages wrote is a valid document
    again = db.structures.find_one({"_id": interrupted["_id"]})
    stage = interrupted["lock"]["stage"]
    assert again["attempts"][stage] == 2, "the interrupted task ran again"
    assert sorted(d["_id"] for d in db.structures.find({"campaign": "resume"})) == sorted(ids)
    status = subprocess.run([sys.executable, "-m", "mofgen.cli", "status", "--db", db_dir,
                             "--campaign", "resume", "--json"], capture_output=True, text=True)
    report = json.loads(status.stdout)["campaigns"][0]
    assert report["status"] == "stopped" and report["reached"]["validated"] >= 1
    db.close()


def test_ctrl_c_stops_cleanly(db_dir, tmp_path, pillared_mofs):
    """SIGINT to the whole process group (a terminal's Ctrl-C): running tasks finish."""
    config = tmp_path / "campaign.yaml"
    config.write_text(yaml.safe_dump(SMALL))
    db = connect(db_dir)
    open_campaign(db, "resume", CampaignConfig.model_validate(SMALL))
    seed(db, "resume", pillared_mofs[:1])
    run = _run(db_dir, config, "--minutes", "20")
    wait_for(lambda: db.structures.find_one({"campaign": "resume", "lock": {"$ne": None}}))
    os.killpg(run.pid, signal.SIGINT)
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output
    assert "stopping (interrupted)" in output and "Traceback" not in output
    campaign = db.campaigns.find_one({"_id": "resume"})
    assert campaign["status"] == "stopped" and "runner" not in campaign
    assert db.structures.count_documents({"lock": {"$ne": None}}) == 0, "the task finished"
    assert db.collection("fireworks").count_documents({"state": "RUNNING"}) == 0
    db.close()
