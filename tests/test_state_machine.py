"""The state machine enforced in the database: legal moves, leases, races, bad input."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from mofgen.documents import StructureDoc
from mofgen.errors import IllegalTransition, InvalidInput, NotFound
from mofgen.states import StateMachine, check_transition
from mofgen.stores.connection import connect
from tests.conftest import small_structure
from tests.helpers.workers import advance_all


def _seed(db, n: int, campaign: str) -> list[str]:
    machine = StateMachine(db.structures, worker="seeder")
    docs = [
        StructureDoc.from_structure(small_structure(i), campaign, doc_id=f"{campaign}-{i:05d}")
        for i in range(n)
    ]
    db.structures.insert_many([d.to_mongo() for d in docs])
    assert machine is not None
    return [d.id for d in docs]


def test_lifecycle_records_history(any_db):
    machine = StateMachine(any_db.structures, worker="w")
    doc = StructureDoc.from_structure(small_structure(), "c")
    assert machine.create(doc)
    assert not machine.create(doc), "the same id is stored once"
    relax = {"relax": {"tool": "chgnet", "energy_eV": -1.0}}
    for stage, record in [("validate", {"strain": 0.05}), ("simulate", relax),
                          ("adsorb", {"co2_uptake": 1.2})]:
        claimed = machine.claim(stage, campaign="c")
        assert claimed["lock"]["owner"] == "w"
        machine.complete(claimed["_id"], stage, record)
    final = any_db.structures.find_one({"_id": doc.id})
    assert final["state"] == "adsorbed"
    assert [h["to"] for h in final["history"]] == ["generated", "validated", "simulated",
                                                     "adsorbed"]
    assert all(h["versions"]["mofgen"] for h in final["history"])
    assert final["history"][-1]["duration_s"] >= 0
    assert "lock" not in final
    assert final["adsorb"]["co2_uptake"] == 1.2
    assert StructureDoc.from_mongo(final).to_structure() == small_structure()


def test_second_completion_is_refused(any_db):
    machine = StateMachine(any_db.structures, worker="a")
    (doc_id,) = _seed(any_db, 1, "c")
    machine.claim_id(doc_id, "validate")
    machine.complete(doc_id, "validate", {"strain": 0.01})
    with pytest.raises(IllegalTransition, match="is validated, not generated"):
        machine.complete(doc_id, "validate", {"strain": 0.02})
    assert any_db.structures.find_one({"_id": doc_id})["validate"]["strain"] == 0.01


def test_lease_blocks_others_until_it_expires(any_db):
    (doc_id,) = _seed(any_db, 1, "c")
    first = StateMachine(any_db.structures, "first")
    second = StateMachine(any_db.structures, "second")
    assert first.claim("validate", "c", lease_seconds=3600)["_id"] == doc_id
    assert second.claim("validate", "c") is None
    with pytest.raises(IllegalTransition, match="lease held by 'first'"):
        second.complete(doc_id, "validate", {"strain": 0.1})
    # a crashed worker: its lease runs out and the document can be taken over
    any_db.structures.update_one(
        {"_id": doc_id},
        {"$set": {"lock.expires": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)}},
    )
    assert [d["_id"] for d in second.expired_leases("c")] == [doc_id]
    taken = second.claim("validate", "c")
    assert taken["lock"]["owner"] == "second" and taken["attempts"]["validate"] == 2
    with pytest.raises(IllegalTransition):
        first.complete(doc_id, "validate", {"strain": 0.1})
    second.complete(doc_id, "validate", {"strain": 0.1})


def test_reject_fail_and_retry(any_db):
    machine = StateMachine(any_db.structures, "w")
    a, b = _seed(any_db, 2, "c")
    machine.claim_id(a, "validate")
    rejected = machine.reject(a, "validate", "lattice strain above threshold", 0.31, 0.25)
    assert rejected["state"] == "rejected"
    assert rejected["rejection"] == {"stage": "validate", "reason": "lattice strain above "
                                     "threshold", "value": 0.31, "threshold": 0.25}
    machine.claim_id(b, "validate")
    failed = machine.fail(b, "validate", "LAMMPS: ERROR: Lost atoms")
    assert failed["failure"]["message"].startswith("LAMMPS") and failed["failure"]["attempts"] == 1
    assert machine.retry(b)["state"] == "generated"
    with pytest.raises(IllegalTransition):
        machine.transition(a, "rejected", "validated")


@pytest.mark.parametrize(
    "source,target,kind",
    [("generated", "simulated", "mof"), ("validated", "adsorbed", "mof"),
     ("simulated", "retrained", "mof"), ("simulated", "adsorbed", "crystal"),
     ("retrained", "generated", "mof"), ("rejected", "validated", "mof")],
)
def test_illegal_transitions(source, target, kind):
    with pytest.raises(IllegalTransition):
        check_transition(source, target, kind)


def test_crystals_skip_adsorption(any_db):
    machine = StateMachine(any_db.structures, "w")
    doc = StructureDoc.from_structure(small_structure(), "x", kind="crystal")
    machine.create(doc)
    machine.transition(doc.id, "generated", "validated")
    machine.transition(doc.id, "validated", "simulated")
    with pytest.raises(IllegalTransition, match="for a crystal"):
        machine.transition(doc.id, "simulated", "adsorbed")
    assert machine.transition(doc.id, "simulated", "retrained")["state"] == "retrained"


def _snapshot(db) -> list[dict]:
    return list(db.structures.find({}, sort=[("_id", 1)]))


def test_bad_input_changes_nothing(any_db):
    machine = StateMachine(any_db.structures, "w")
    (doc_id,) = _seed(any_db, 1, "c")
    before = _snapshot(any_db)
    with pytest.raises(InvalidInput, match="unknown state 'flying'"):
        machine.transition(doc_id, "generated", "flying")
    with pytest.raises(IllegalTransition):
        machine.transition(doc_id, "generated", "adsorbed")
    with pytest.raises(NotFound):
        machine.transition("no-such-id", "generated", "validated")
    with pytest.raises(InvalidInput, match="unknown stage"):
        machine.claim("dance", "c")
    with pytest.raises(InvalidInput, match="written by the state machine"):
        machine.transition(doc_id, "generated", "validated", set_fields={"state": "adsorbed"})
    with pytest.raises(InvalidInput, match="structure"):
        StructureDoc.from_mongo({"_id": "bad", "campaign": "c", "structure": {"sites": []}})
    with pytest.raises(IllegalTransition, match="start as generated"):
        machine.create(StructureDoc.model_construct(id="x", campaign="c", state="validated"))
    with pytest.raises(InvalidInput, match="structure"):
        machine.create(StructureDoc.model_construct(id="y", campaign="c", state="generated"))
    machine.claim_id(doc_id, "validate")
    with pytest.raises(InvalidInput, match="invalid stage record"):
        machine.complete(doc_id, "validate", {"finished": "not a time"})
    after = _snapshot(any_db)
    assert [d["state"] for d in after] == [d["state"] for d in before] == ["generated"]
    assert after[0]["history"] == before[0]["history"]


#: The wire-protocol test server answers ~30 sorted find_one_and_update calls per second at a
#: few hundred documents (SecantusDB 0.7), so its race is smaller; the logic is the same.
RACE_DOCUMENTS = {"embedded": 1000, "mongodb": 200}


def test_eight_workers_race_for_documents(any_db_target, request):
    """Eight worker processes claim and advance 1 000 (server: 200) documents: each advances
    exactly once."""
    db = connect(any_db_target)
    ids = _seed(db, RACE_DOCUMENTS[request.node.callspec.params["any_db_target"]], "race")
    with ProcessPoolExecutor(8, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(advance_all, [any_db_target] * 8, [f"w{i}" for i in range(8)]))
    done = [doc_id for worker in results for doc_id in worker]
    assert sorted(done) == sorted(ids), "every document advanced exactly once, none lost"
    assert sum(1 for r in results if r) >= 2, "the work was actually shared between workers"
    for doc in db.structures.find({"campaign": "race"}):
        assert doc["state"] == "validated"
        assert [h["to"] for h in doc["history"]] == ["validated"]
        assert doc["attempts"] == {"validate": 1}
        assert doc["validate"]["workdir"] == doc["history"][-1]["worker"]
    db.close()
