"""Query helpers for maggma and pymongo users, identical on MongoDB and the embedded store.

>>> from mofgen.export.queries import structures_store, best_uptake
>>> store = structures_store("mofgen-data")          # or "mongodb://host/mofgen"
>>> store.connect()
>>> list(store.query({"adsorb.co2_uptake": {"$gt": 1}}, properties=["_id", "adsorb"]))
>>> best_uptake(store, "demo", limit=5)

The same filters work in ``mongosh`` (``db.structures.find({"adsorb.co2_uptake": {$gt: 1}})``)
and in pymongo (``connect(target).structures.find(...)``). Field paths are those of
:class:`mofgen.documents.StructureDoc` (``validate.strain``, ``adsorb.co2_uptake`` in
mol/kg, ``identifiers.formula`` …). Filters that sort on one indexed path with a limit stay
fast on large stores (see ``stores.connection.INDEXES``).
"""

from __future__ import annotations

from typing import Any

SUMMARY_FIELDS = ["_id", "campaign", "state", "identifiers.formula", "validate.strain",
                  "adsorb.co2_uptake", "linkers.smiles"]


def structures_store(target: str | None = None):
    """A maggma ``Store`` over ``structures`` (serialisable: it reconnects by target)."""
    from mofgen.stores.connection import connect

    db = connect(target, create=False)
    return db.maggma_store("structures")


def query_structures(
    store, criteria: dict[str, Any] | None = None, properties: list[str] | None = None,
    sort: dict[str, int] | None = None, limit: int = 0, skip: int = 0,
) -> list[dict[str, Any]]:
    """``store.query`` as a list; ``sort`` is maggma's ``{"path": 1 | -1}``."""
    return list(store.query(criteria=criteria or {}, properties=properties, sort=sort,
                            limit=limit, skip=skip))


def best_uptake(store, campaign: str, limit: int = 10) -> list[dict[str, Any]]:
    """The highest CO2 uptakes of a campaign (index on campaign, adsorb.co2_uptake)."""
    return query_structures(store, {"campaign": campaign, "adsorb.co2_uptake": {"$gte": 0}},
                            SUMMARY_FIELDS, {"adsorb.co2_uptake": -1}, limit)


def stable_structures(store, campaign: str, max_strain: float = 0.10,
                      limit: int = 0) -> list[dict[str, Any]]:
    """Structures with lattice strain below ``max_strain`` (MOFA: stable below 10 %)."""
    return query_structures(store, {"campaign": campaign,
                                    "validate.strain": {"$gte": 0, "$lt": max_strain}},
                            SUMMARY_FIELDS, {"validate.strain": 1}, limit)


__all__ = ["best_uptake", "query_structures", "stable_structures", "structures_store"]
