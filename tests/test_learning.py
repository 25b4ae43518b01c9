"""Online learning (issue #12): retraining on what the campaign generated, failures that do
not loop, promotion that keeps the generator healthy, per-version learning figures."""

from __future__ import annotations

import pytest

from mofgen.campaigns import campaign_status, open_campaign
from mofgen.documents import CampaignConfig
from mofgen.flows._stage import run_job
from mofgen.flows.retrain import RetrainMaker, promotion, replay_count
from mofgen.kinds import get_kind
from mofgen.states import StateMachine

#: tiny but real: the shipped generator, few diffusion steps, a short fine-tuning
SMALL = {"kind": "mof", "resources": {"gpu": 1, "cpu": 1},
         "mof": {"linkers_per_batch": 12, "diffusion_steps": 20, "retrain_steps": 20,
                 "retrain_max_minutes": 0.5, "registration_samples": 16,
                 "replay_fraction": 0.5, "thresholds": {"retrain_min_stable": 2,
                                                         "retrain_min_adsorbed": 2}}}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A campaign whose generate job produced MOFs; the first two are validated stable."""
    from mofgen.stores.connection import connect

    db = connect(str(tmp_path_factory.mktemp("learn") / "store"))
    config = CampaignConfig.model_validate(SMALL)
    open_campaign(db, "learn", config)
    makers = get_kind("mof").makers(config)
    for _ in range(3):
        summary = run_job(makers["generate"], db.target, "learn", [], {})
        if db.structures.count_documents({"campaign": "learn"}) >= 3:
            break
    assert db.structures.count_documents({"campaign": "learn"}) >= 3, summary
    machine = StateMachine(db.structures, "test")
    ids = [d["_id"] for d in db.structures.find({"campaign": "learn"}).sort("_id", 1)]
    for strain, doc_id in zip((0.02, 0.05, 0.3), ids):
        machine.claim_id(doc_id, "validate")
        if strain < 0.1:
            machine.complete(doc_id, "validate", {"strain": strain})
        else:
            machine.reject(doc_id, "validate", "unstable", strain, 0.1, record={"strain": strain})
    yield db, config, makers, ids
    db.close()


def test_generated_linkers_keep_their_geometry_for_training(campaign):
    db, _, _, ids = campaign
    doc = db.structures.find_one({"_id": ids[0]})
    for ref in doc["linkers"]:
        linker = db.linkers.find_one({"_id": ref["linker_id"]})
        entry = linker["training_entry"]
        assert entry["source"] in ("processed", "generated")
        assert len(entry["symbols"]) == len(entry["coords"]) > entry["n_fragment"] > 0


def test_a_retrain_on_generated_structures_succeeds(campaign):
    db, config, makers, ids = campaign
    summary = run_job(makers["retrain"], db.target, "learn", [],
                      {"training_ids": ids[:2]})
    assert summary.get("outcome") != "failed", summary
    assert summary["training_examples"] >= 2
    assert summary["training_examples"] + summary["replay_examples"] == 64, "topped up"
    version = db.models.find_one({"_id": summary["model_version"]})
    assert version["parent"] == summary["parent"] and version["campaign"] == "learn"
    for anchor in ("COO", "cyano"):  # registration metrics, measured by sampling
        for metric in ("validity", "uniqueness", "novelty", "anchor_retention",
                       "heavy_atoms"):
            assert f"{anchor}_{metric}" in version["metrics"], (anchor, metric)
        assert version["metrics"][f"{anchor}_samples"] == 16
    assert version["metrics"]["promoted"] in (0.0, 1.0)
    assert version["hyperparameters"]["promotion"].startswith(
        "promoted" if version["metrics"]["promoted"] else "not promoted")
    parent = db.models.find_one({"_id": summary["parent"]})
    assert "COO_validity" in parent["metrics"], "the parent was measured the same way"
    assert sorted(version["training_set_ids"]) == sorted(ids[:2])
    assert all(summary["model_version"] in d.get("retrain_versions", [])
               for d in db.structures.find({"_id": {"$in": ids[:2]}}))

    learning = {row["version"]: row for row in campaign_status(db, "learn")["learning"]}
    shipped = learning[summary["parent"]]
    assert shipped["generated"] >= 3 and shipped["measured"] == 3 and shipped["stable"] == 2
    low, high = shipped["stable_fraction_ci95"]
    assert low < 2 / 3 < high


def test_a_failed_retrain_is_recorded_and_not_queued_again(campaign):
    db, config, makers, ids = campaign
    policy = get_kind("mof").policy(db, "learn", config)
    bad = ["no-such-structure"]
    summary = run_job(makers["retrain"], db.target, "learn", [], {"training_ids": bad})
    assert summary["outcome"] == "failed" and "usable" in summary["message"]
    stored = db.campaigns.find_one({"_id": "learn"})["failures"]["retrain"]
    assert "usable" in stored["message"]
    assert policy.failed_with("retrain", {"training_ids": bad})
    assert not policy.failed_with("retrain", {"training_ids": ids[:2]}), "a changed set runs"
    logged = db.collection("decisions").find_one({"campaign": "learn", "stage": "retrain"})
    assert logged and "failed" in logged["reason"]


def test_promotion_rule():
    maker = RetrainMaker(min_validity=0.30, max_validity_drop=0.10)
    parent = {"COO_validity": 0.60, "cyano_validity": 0.52}
    ok, verdict = promotion({"COO_validity": 0.55, "cyano_validity": 0.45}, parent, maker)
    assert ok and verdict.startswith("promoted")
    ok, verdict = promotion({"COO_validity": 0.45, "cyano_validity": 0.50}, parent, maker)
    assert not ok and "COO validity 45% is more than 10% below the parent's 60%" in verdict
    ok, verdict = promotion({"COO_validity": 0.25, "cyano_validity": 0.50}, {}, maker)
    assert not ok and "COO validity 25% < 30%" in verdict


def test_replay_share():
    assert replay_count(10, 0.5) == 10 and replay_count(10, 0.0) == 0
    assert replay_count(3, 0.75) == 9
    assert replay_count(3, 0.5, min_examples=64) == 61 and replay_count(100, 0.5, 64) == 100
