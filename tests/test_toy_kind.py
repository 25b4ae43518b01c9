"""Adding a kind is one module: a toy kind runs through the real engine (policy daemon,
FireWorks, local launcher processes, state machine, typed records, status)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TOY = "tests.helpers.toy_kind:ToyKind"


@pytest.fixture
def toy_env(monkeypatch):
    """Every process of the campaign (launchers are spawned) loads the toy kind; this one
    registers it directly (it adds no move to the state machine, so it may stay)."""
    monkeypatch.setenv("MOFGEN_KINDS", TOY)
    import mofgen.kinds
    from tests.helpers.toy_kind import ToyKind

    mofgen.kinds.register_kind(ToyKind())


def test_a_toy_kind_runs_through_the_engine(toy_env, db_dir, tmp_path):
    from pymatgen.core import Lattice, Structure

    from mofgen.campaigns import open_campaign
    from mofgen.documents import CampaignConfig, StructureDoc
    from mofgen.launchers.runner import CampaignRunner
    from mofgen.states import StateMachine, transitions
    from mofgen.stores.connection import connect

    db = connect(db_dir)
    config = CampaignConfig.model_validate(
        {"kind": "toy", "resources": {"gpu": 0, "cpu": 1}, "toy": {"max_density": 5.0}})
    open_campaign(db, "toys", config)
    machine = StateMachine(db.structures, worker="test", kind="toy")
    densities = {}
    for i, a in enumerate((3.0, 3.5, 4.0, 2.2)):  # simple-cubic Cu: 2.2 Å is > 5 g/cm3
        structure = Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]])
        doc = StructureDoc.from_structure(structure, "toys", kind="toy", doc_id=f"toy-{i}")
        assert machine.create(doc)
        densities[doc.id] = structure.density
    summary = CampaignRunner(db, "toys", None, minutes=5, interval_s=0.5,
                             out=open(os.devnull, "w")).run()
    assert summary["reason"] == "every candidate of the generator processed"

    for doc in db.structures.find({"campaign": "toys"}):
        assert doc["measure"]["density_g_per_cm3"] == pytest.approx(densities[doc["_id"]])
        expected = "rejected" if densities[doc["_id"]] > 5.0 else "validated"
        assert doc["state"] == expected, doc["_id"]
        assert [h["to"] for h in doc["history"]] == ["generated", expected]
    assert db.collection("fireworks").count_documents({"state": "COMPLETED"}) == 4
    assert transitions()  # the toy's ladder adds no new move: generated → validated
    db.close()

    status = subprocess.run(
        [sys.executable, "-m", "mofgen.cli", "status", "--db", db_dir, "--campaign", "toys",
         "--json"], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert status.returncode == 0, status.stderr
    (report,) = json.loads(status.stdout)["campaigns"]
    assert report["kind"] == "toy" and report["states"]["validated"] == 3
    (density,) = report["best"]
    assert density["unit"] == "g/cm3" and density["top"][0]["id"] == "toy-2"


def test_a_stage_longer_than_its_lease_keeps_its_result_and_runs_once(toy_env, db_dir):
    """The stage runs 4 s against a 1 s lease while the daemon frees expired leases every
    half second: the heartbeat keeps the lease, so the result is written once."""
    from pymatgen.core import Lattice, Structure

    from mofgen.campaigns import open_campaign
    from mofgen.documents import CampaignConfig, StructureDoc
    from mofgen.launchers.runner import CampaignRunner
    from mofgen.states import StateMachine
    from mofgen.stores.connection import connect
    from tests.helpers.toy_kind import LEASE_S

    db = connect(db_dir)
    config = CampaignConfig.model_validate(
        {"kind": "toy", "resources": {"gpu": 0, "cpu": 1},
         "toy": {"seconds_per_structure": 4 * LEASE_S}})
    open_campaign(db, "slow", config)
    doc = StructureDoc.from_structure(Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]]),
                                      "slow", kind="toy", doc_id="slow-0")
    assert StateMachine(db.structures, "test", kind="toy").create(doc)
    CampaignRunner(db, "slow", None, minutes=5, interval_s=0.5,
                   out=open(os.devnull, "w")).run()
    stored = db.structures.find_one({"_id": "slow-0"})
    assert stored["state"] == "validated" and stored["attempts"] == {"measure": 1}
    assert [h["to"] for h in stored["history"]] == ["generated", "validated"]
    assert stored["history"][-1]["duration_s"] >= 4 * LEASE_S
    assert db.collection("fireworks").count_documents({}) == 1, "queued once, never again"
    released = list(db.collection("decisions").find({"stage": "recover"}))
    assert released == [], "the daemon never freed the lease of a live holder"
    db.close()


def test_unknown_kind_is_one_clear_error(db_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("kind: toy\n")
    result = subprocess.run(
        [sys.executable, "-m", "mofgen.cli", "run", "--db", db_dir, "--config", str(config)],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "MOFGEN_KINDS"})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "unknown campaign kind 'toy'" in \
        result.stderr and "Traceback" not in result.stderr


def test_two_campaigns_on_one_database_never_run_each_others_work(toy_env, db_dir):
    """The runner's launchers take only their own campaign's Fireworks (issue #13)."""
    from pymatgen.core import Lattice, Structure

    from mofgen.campaigns import open_campaign
    from mofgen.documents import CampaignConfig, StructureDoc
    from mofgen.launchers.daemon import Daemon
    from mofgen.launchers.runner import CampaignRunner
    from mofgen.states import StateMachine
    from mofgen.stores.connection import connect

    db = connect(db_dir)
    config = CampaignConfig.model_validate({"kind": "toy", "resources": {"gpu": 0, "cpu": 1}})
    machine = StateMachine(db.structures, "test", kind="toy")
    for name in ("mine", "theirs"):
        open_campaign(db, name, config)
        for i, a in enumerate((3.0, 3.3)):
            doc = StructureDoc.from_structure(Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]]),
                                              name, kind="toy", doc_id=f"{name}-{i}")
            assert machine.create(doc)
    Daemon(db, "theirs", config).round()  # their work is queued, nobody of theirs runs it
    theirs = {fw["fw_id"] for fw in db.collection("fireworks").find(
        {"spec.mofgen.campaign": "theirs"}, {"fw_id": 1})}
    assert len(theirs) == 2
    CampaignRunner(db, "mine", None, minutes=5, interval_s=0.5,
                   out=open(os.devnull, "w")).run()
    assert db.structures.count_documents({"campaign": "mine", "state": "validated"}) == 2
    assert db.structures.count_documents({"campaign": "theirs", "state": "generated"}) == 2
    assert db.collection("fireworks").count_documents(
        {"fw_id": {"$in": sorted(theirs)}, "state": "READY"}) == 2, "theirs untouched"
    db.close()
