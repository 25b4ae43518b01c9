"""The embedded store: durability under SIGKILL, live readers, and MongoDB semantics.

The semantics test runs the same operations on mongomock-ng's in-memory engine (the
reference FireWorks and maggma already use) and on the SQLite-backed store, so index
pushdown can never change an answer.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import mongomock_ng
import pytest
from pymongo import ReturnDocument

from mofgen.documents import StructureDoc
from mofgen.states import StateMachine
from mofgen.stores.connection import connect
from mofgen.stores.embedded import STORE_FILENAME, EmbeddedClient
from tests.conftest import small_structure

REPO = Path(__file__).resolve().parents[1]


def _seed(target: str, n: int, campaign: str) -> None:
    db = connect(target)
    docs = [StructureDoc.from_structure(small_structure(i), campaign, doc_id=f"{campaign}-{i:05d}")
            for i in range(n)]
    db.structures.insert_many([d.to_mongo() for d in docs])
    db.close()


def _helper(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.workers", *args], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_sigkill_loses_no_acknowledged_transition(db_dir):
    _seed(db_dir, 2000, "crash")
    writer = _helper("stream", db_dir)
    acknowledged = []
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 150:
            os.kill(writer.pid, signal.SIGKILL)
            break
    writer.wait()
    assert writer.returncode == -signal.SIGKILL

    with sqlite3.connect(Path(db_dir) / STORE_FILENAME) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db = connect(db_dir)
    validated = {d["_id"] for d in db.structures.find({"state": "validated"}, {"_id": 1})}
    assert set(acknowledged) <= validated, "every acknowledged transition survived"
    assert len(validated) <= len(acknowledged) + 1, "at most the one in flight is extra"
    # the store is writable again and a crashed claim is visible as a lease to recover
    machine = StateMachine(db.structures, worker="after-crash")
    leased = list(db.structures.find({"lock": {"$ne": None}}, {"_id": 1}))
    assert len(leased) <= 1
    doc = machine.claim("validate", "crash")
    assert doc is not None and doc["_id"] not in validated
    machine.complete(doc["_id"], "validate", {"strain": 0.0})
    db.close()


def test_reader_process_sees_a_live_writer(db_dir):
    _seed(db_dir, 2000, "crash")
    writer = _helper("stream", db_dir)
    try:
        assert writer.stdout.readline()  # the writer is under way
        reader = _helper("watch", db_dir)
        out, err = reader.communicate(timeout=300)
    finally:
        writer.kill()
        writer.wait()
    assert reader.returncode == 0, err
    counts = [int(x) for x in out.split()]
    assert counts == sorted(counts), "a reader never sees a transition disappear"
    assert len(set(counts)) >= 3, "the reader saw the writer's progress while it ran"


def test_reopen_after_close_keeps_everything(db_dir):
    db = connect(db_dir)
    db.structures.insert_one({"_id": "a", "campaign": "c", "state": "generated", "n": 1})
    db.close()
    again = connect(db_dir)
    assert again.structures.find_one("a")["n"] == 1
    assert "campaign_1_state_1" in again.structures.index_information()
    again.close()


# --------------------------------------------------------------------------- semantics
def _random_doc(rng: random.Random, i: int) -> dict:
    doc: dict = {"_id": f"d{i:04d}", "n": i}
    if rng.random() < 0.8:
        doc["state"] = rng.choice(["generated", "validated", "adsorbed"])
    if rng.random() < 0.7:
        doc["validate"] = {"strain": rng.choice([rng.random() * 0.3, None, 1, "x"])}
    if rng.random() < 0.5:
        doc["tags"] = rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
    if rng.random() < 0.3:
        doc["history"] = [{"to": rng.choice(["generated", "validated"])} for _ in range(2)]
    if rng.random() < 0.5:
        doc["t"] = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=rng.randint(0, 1000))
    doc["flag"] = rng.choice([True, False, None])
    doc["level"] = rng.choice([0, 1, 2.5, None])
    return doc


QUERIES = [
    {},
    {"state": "validated"},
    {"state": None},
    {"state": {"$in": ["generated", "adsorbed"]}},
    {"state": {"$ne": "generated"}},
    {"validate.strain": {"$lt": 0.1}},
    {"validate.strain": {"$gte": 0.1, "$lt": 0.2}},
    {"validate.strain": None},
    {"validate.strain": {"$exists": True}},
    {"tags": "b"},
    {"tags": {"$in": ["a", "d"]}},
    {"tags": []},
    {"history.to": "validated"},
    {"flag": True},
    {"level": 1},
    {"level": {"$in": [0, None]}},
    {"level": {"$gt": 0.5}},
    {"t": {"$gt": dt.datetime(2026, 1, 1, 8)}},
    {"$or": [{"state": "validated"}, {"tags": "a"}]},
    {"$or": [{"state": "validated"}, {"n": {"$lt": 10}}]},
    {"$and": [{"state": "validated"}, {"validate.strain": {"$lt": 0.2}}]},
    {"_id": "d0007"},
    {"_id": {"$in": ["d0001", "d0100", "nope"]}},
    {"state": "validated", "tags": {"$size": 2}},
]
SORTS = [None, [("validate.strain", 1)], [("validate.strain", -1)], [("t", -1)],
         [("state", 1), ("n", -1)], [("n", 1)]]


@pytest.fixture(scope="module")
def twin_collections(tmp_path_factory):
    rng = random.Random(7)
    docs = [_random_doc(rng, i) for i in range(250)]
    reference = mongomock_ng.MongoClient()["db"]["c"]
    embedded_client = EmbeddedClient(tmp_path_factory.mktemp("twin"))
    embedded = embedded_client["db"]["c"]
    for collection in (reference, embedded):
        collection.create_index([("state", 1)])
        collection.create_index([("validate.strain", 1)])
        collection.create_index([("tags", 1)])
        collection.create_index([("history.to", 1)])
        collection.create_index([("flag", 1)])
        collection.create_index([("level", 1)])
        collection.create_index([("t", -1)])
        collection.insert_many([dict(d) for d in docs])
    yield reference, embedded
    embedded_client.close()


@pytest.mark.parametrize("query", QUERIES, ids=[str(q) for q in QUERIES])
def test_queries_match_mongomock(twin_collections, query):
    reference, embedded = twin_collections
    assert embedded.count_documents(query) == reference.count_documents(query)
    for sort in SORTS:
        for limit in (0, 1, 7):
            want = [d["_id"] for d in reference.find(query, sort=sort, limit=limit)]
            got = [d["_id"] for d in embedded.find(query, sort=sort, limit=limit)]
            if sort is None or len({_key(reference, i, sort) for i in want}) == len(want):
                assert got == want, (sort, limit)
            else:  # ties may come in any order, as on MongoDB
                assert [_key(reference, i, sort) for i in got] == [
                    _key(reference, i, sort) for i in want], (sort, limit)


def _key(collection, doc_id, sort):
    """The values a document sorts by (missing and null sort alike)."""
    doc = collection.find_one(doc_id)
    values = []
    for path, _ in sort:
        try:
            values.append(mongomock_ng.helpers.get_value_by_dot(doc, path))
        except KeyError:
            values.append(None)
    return repr(values)


def test_updates_match_mongomock(twin_collections):
    reference, embedded = twin_collections
    operations = [
        ("update_many", {"state": "generated"}, {"$set": {"state": "validated"},
                                                  "$inc": {"n": 1000}}),
        ("update_one", {"tags": "c"}, {"$push": {"tags": "z"}}),
        ("update_many", {"validate.strain": {"$lt": 0.05}}, {"$unset": {"validate": ""}}),
        ("delete_many", {"flag": False}),
        ("update_one", {"_id": "new"}, {"$set": {"state": "adsorbed"}}, True),
    ]
    for name, *args in operations:
        if len(args) == 3:
            getattr(reference, name)(*args[:2], upsert=True)
            getattr(embedded, name)(*args[:2], upsert=True)
        else:
            getattr(reference, name)(*args)
            getattr(embedded, name)(*args)
    doc_a = reference.find_one_and_update({"state": "validated"}, {"$set": {"x": 1}},
                                          sort=[("n", -1)], return_document=ReturnDocument.AFTER)
    doc_b = embedded.find_one_and_update({"state": "validated"}, {"$set": {"x": 1}},
                                         sort=[("n", -1)], return_document=ReturnDocument.AFTER)
    assert doc_a == doc_b
    assert list(reference.find(sort=[("_id", 1)])) == list(embedded.find(sort=[("_id", 1)]))
    for query in QUERIES:
        assert embedded.count_documents(query) == reference.count_documents(query), query


def test_booleans_are_not_numbers_as_in_mongodb(tmp_path):
    """MongoDB compares BSON types: ``{flag: true}`` does not match 1 (mongomock-ng does)."""
    client = EmbeddedClient(tmp_path)
    collection = client["db"]["c"]
    collection.create_index("flag")
    collection.insert_many([{"flag": True}, {"flag": 1}, {"flag": 1.0}, {"flag": False}])
    assert collection.count_documents({"flag": True}) == 1
    assert collection.count_documents({"flag": 1}) == 2
    client.close()


def test_unique_index_is_enforced_through_the_index_table(tmp_path):
    client = EmbeddedClient(tmp_path)
    collection = client["db"]["fireworks"]
    collection.create_index("fw_id", unique=True)
    collection.insert_one({"fw_id": 1})
    with pytest.raises(mongomock_ng.DuplicateKeyError):
        collection.insert_one({"fw_id": 1})
    collection.insert_one({"fw_id": 2})
    with pytest.raises(mongomock_ng.DuplicateKeyError):
        collection.update_one({"fw_id": 2}, {"$set": {"fw_id": 1}})
    assert sorted(d["fw_id"] for d in collection.find()) == [1, 2]
    client.close()
