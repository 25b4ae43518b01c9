"""Query helpers: maggma Store queries equal pymongo's on the embedded store (and MongoDB)."""

from __future__ import annotations

from mofgen.chemistry import assemble_mof
from mofgen.export.queries import (
    best_uptake,
    query_structures,
    stable_structures,
    structures_store,
)
from mofgen.stores.connection import connect
from tests.helpers.seed import seed_campaign


def test_maggma_queries_match_pymongo(any_db_target):
    db = connect(any_db_target)
    structure = assemble_mof(["OC(=O)c1ccc(cc1)C(=O)O"], pillar="C1CN2CCN1CC2").structure
    seed_campaign(db, "q", 60, [structure])
    store = structures_store(any_db_target)
    store.connect()
    try:
        crit = {"adsorb.co2_uptake": {"$gt": 1}}
        via_maggma = sorted(d["_id"] for d in query_structures(store, crit, ["_id"]))
        via_pymongo = sorted(d["_id"] for d in db.structures.find(crit, {"_id": 1}))
        assert via_maggma == via_pymongo and via_maggma
        assert store.count(crit) == len(via_pymongo)
        top = best_uptake(store, "q", limit=3)
        uptakes = [d["adsorb"]["co2_uptake"] for d in top]
        assert uptakes == sorted(uptakes, reverse=True) and len(top) == 3
        assert uptakes[0] == max(d["adsorb"]["co2_uptake"] for d in db.structures.find(
            {"adsorb.co2_uptake": {"$gte": 0}}, {"adsorb.co2_uptake": 1}))
        stable = stable_structures(store, "q")
        assert all(d["validate"]["strain"] < 0.1 for d in stable)
        assert len(stable) == db.structures.count_documents(
            {"campaign": "q", "validate.strain": {"$lt": 0.1}})
    finally:
        store.close()
        db.close()
