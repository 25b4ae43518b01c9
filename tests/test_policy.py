"""The policy daemon's decisions on a seeded database (no simulation codes run here)."""

from __future__ import annotations

import datetime as dt

import pytest

from mofgen.campaigns import open_campaign
from mofgen.documents import CampaignConfig, ModelVersionDoc, StructureDoc
from mofgen.kinds.mof import MofPolicy as Policy
from mofgen.launchers.daemon import Daemon
from mofgen.launchers.fireworks import in_flight
from tests.conftest import small_structure

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def seed(db, campaign: str, states: list[tuple[str, float | None, float | None]]) -> list[str]:
    """Documents in given (state, strain, uptake), created one minute apart, oldest first."""
    ids = []
    for i, (state, strain, uptake) in enumerate(states):
        doc = StructureDoc.from_structure(small_structure(i), campaign, doc_id=f"s{i:03d}")
        data = doc.to_mongo()
        data.update(state=state, created_at=T0 + dt.timedelta(minutes=i),
                    history=[{"from": "none", "to": "generated", "time": T0}])
        if strain is not None:
            data["validate"] = {"strain": strain}
        if uptake is not None:
            data["adsorb"] = {"co2_uptake": uptake}
        db.structures.insert_one(data)
        ids.append(data["_id"])
    return ids


def config(**kwargs) -> CampaignConfig:
    base = {"resources": {"gpu": 1, "cpu": 2}, "queue_depth_per_worker": 2}
    return CampaignConfig.model_validate({**base, **kwargs})


def empty_flight() -> dict:
    return {"docs": {}, "stages": {}, "ready": {}, "running": {}}


def by_stage(decisions):
    return {d.stage: d for d in decisions}


def test_validation_is_lifo_and_bounded(db):
    seed(db, "c", [("generated", None, None)] * 10)
    decisions = by_stage(Policy(db, "c", config()).decide(empty_flight()))
    # queue depth = 2 per worker x 2 cpu workers; the newest four first
    assert decisions["validate"].doc_ids == ["s009", "s008", "s007", "s006"]
    assert "created_at desc" in decisions["validate"].reason


def test_adsorption_takes_the_most_stable_first(db):
    seed(db, "c", [("simulated", 0.08, None), ("simulated", 0.01, None),
                   ("simulated", 0.05, None), ("validated", 0.002, None)])
    decisions = by_stage(Policy(db, "c", config()).decide(empty_flight()))
    assert decisions["adsorb"].doc_ids == ["s001", "s002", "s000"]
    assert decisions["simulate"].doc_ids == ["s003"]  # the one free slot left
    assert decisions["adsorb"].priority > decisions["simulate"].priority


def test_queue_depth_counts_what_is_already_queued(db):
    seed(db, "c", [("generated", None, None)] * 10)
    flight = {**empty_flight(), "ready": {"cpu": 3}, "docs": {"validate": {"s009"}}}
    decisions = by_stage(Policy(db, "c", config()).decide(flight))
    assert decisions["validate"].doc_ids == ["s008"], "one free slot, s009 already queued"
    full = {**empty_flight(), "ready": {"cpu": 4}}
    assert "validate" not in by_stage(Policy(db, "c", config()).decide(full))


def test_generation_backpressure_and_budget(db):
    seed(db, "c", [("generated", None, None)] * 5)
    assert "generate" in by_stage(Policy(db, "c", config()).decide(empty_flight()))
    assert "generate" not in by_stage(
        Policy(db, "c", config(max_waiting_validation=5)).decide(empty_flight()))
    assert "generate" not in by_stage(
        Policy(db, "c", config(budget={"max_structures": 5})).decide(empty_flight()))
    busy = {**empty_flight(), "stages": {"generate": 1}}
    assert "generate" not in by_stage(Policy(db, "c", config()).decide(busy))


@pytest.mark.parametrize("n_stable,expected", [(63, False), (64, True)])
def test_retraining_starts_exactly_at_the_threshold(db, n_stable, expected):
    strains = [0.001 * i for i in range(n_stable)] + [0.3, 0.5]  # the last two are too strained
    seed(db, "c", [("rejected", s, None) for s in strains])
    decisions = by_stage(Policy(db, "c", config()).decide(empty_flight()))
    assert ("retrain" in decisions) is expected
    if expected:
        retrain = decisions["retrain"]
        assert retrain.params["training_ids"] == [f"s{i:03d}" for i in range(32)], \
            "lower half by strain"
        assert retrain.evidence["stable"] == 64


def test_retraining_switches_to_top_adsorbers_and_repeats_when_the_set_grows(db):
    seed(db, "c", [("adsorbed", 0.01, float(i)) for i in range(70)])
    policy = Policy(db, "c", config())
    retrain = by_stage(policy.decide(empty_flight()))["retrain"]
    assert retrain.params["training_ids"][:3] == ["s069", "s068", "s067"], "highest uptake first"
    assert "top adsorbers" in retrain.reason and len(retrain.params["training_ids"]) == 64
    # a model trained on this set exists: no retraining until the set grows
    db.models.insert_one(ModelVersionDoc(id="v1", campaign="c",
                                         training_set_ids=retrain.params["training_ids"]).to_mongo())
    assert "retrain" not in by_stage(policy.decide(empty_flight()))
    seed_more = [("adsorbed", 0.01, 100.0 + i) for i in range(70)]
    for i, (state, strain, uptake) in enumerate(seed_more):
        doc = StructureDoc.from_structure(small_structure(100 + i), "c", doc_id=f"t{i:03d}")
        data = doc.to_mongo()
        data.update(state=state, validate={"strain": strain}, adsorb={"co2_uptake": uptake})
        db.structures.insert_one(data)
    again = by_stage(policy.decide(empty_flight()))["retrain"]
    assert len(again.params["training_ids"]) == 70 and again.evidence["parent"] == "v1"
    assert "retrain" not in by_stage(policy.decide({**empty_flight(),
                                                    "stages": {"retrain": 1}}))


def test_daemon_round_inserts_tagged_workflows_and_logs_decisions(db):
    cfg = config(resources={"gpu": 0, "cpu": 1})
    open_campaign(db, "c", cfg)
    seed(db, "c", [("generated", None, None)] * 5)
    daemon = Daemon(db, "c", cfg)
    daemon.round()
    flight = in_flight(db, "c")
    assert flight["ready"]["cpu"] == 2 and flight["docs"]["validate"] == {"s004", "s003"}
    fw = db.collection("fireworks").find_one({"spec.mofgen.doc_id": "s004"})
    assert fw["spec"]["_category"] == "cpu" and fw["spec"]["_priority"] == 1
    daemon.round()  # the queue is full: nothing more is inserted
    assert db.collection("fireworks").count_documents({}) == 2
    (logged,) = list(db.collection("decisions").find({"stage": "validate"}))
    assert logged["doc_ids"] == ["s004", "s003"] and logged["evidence"]["waiting_first"]
