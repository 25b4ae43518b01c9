"""Query helpers for maggma and pymongo users, identical on MongoDB and the embedded store.

>>> from mofgen.export.queries import structures_store, best_uptake
>>> store = structures_store("mofgen-data")          # or "mongodb://host/mofgen"
>>> store.connect()
>>> list(store.query({"adsorb.co2_uptake": {"$gt": 1}}, properties=["_id", "adsorb"]))
>>> best_uptake(store, "demo", limit=5)
>>> lowest_hull(store, "li-fe-o", max_e_above_hull=0.1)  # crystal campaigns

The same filters work in ``mongosh`` (``db.structures.find({"adsorb.co2_uptake": {$gt: 1}})``)
and in pymongo (``connect(target).structures.find(...)``). Field paths are those of
:class:`mofgen.documents.StructureDoc` (``validate.strain``, ``adsorb.co2_uptake`` in
mol/kg, ``identifiers.formula``; for crystals ``simulate.e_above_hull`` and
``simulate.formation_energy_per_atom`` in eV/atom, ``origin.prototype`` …). Filters
that sort on one indexed path with a limit stay fast on large stores (each kind's
``indexes``, :mod:`mofgen.kinds`); the paths are :mod:`mofgen.records`'.
"""

from __future__ import annotations

from typing import Any

from mofgen.records import (
    CO2_UPTAKE,
    CRYSTAL_KEY,
    E_ABOVE_HULL,
    FORMATION_ENERGY,
    NEAR_HULL,
    PREDICTED_FORMATION_ENERGY,
    RELAXED_ENERGY,
    STRAIN,
)

SUMMARY_FIELDS = ["_id", "campaign", "state", "identifiers.formula", STRAIN, CO2_UPTAKE,
                  "linkers.smiles"]
CRYSTAL_FIELDS = ["_id", "campaign", "state", "identifiers.formula", CRYSTAL_KEY,
                  "origin.prototype", "origin.substitution", PREDICTED_FORMATION_ENERGY,
                  RELAXED_ENERGY, FORMATION_ENERGY, E_ABOVE_HULL, NEAR_HULL]


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
    return query_structures(store, {"campaign": campaign, CO2_UPTAKE: {"$gte": 0}},
                            SUMMARY_FIELDS, {CO2_UPTAKE: -1}, limit)


def stable_structures(store, campaign: str, max_strain: float = 0.10,
                      limit: int = 0) -> list[dict[str, Any]]:
    """Structures with lattice strain below ``max_strain`` (MOFA: stable below 10 %)."""
    return query_structures(store, {"campaign": campaign,
                                    STRAIN: {"$gte": 0, "$lt": max_strain}},
                            SUMMARY_FIELDS, {STRAIN: 1}, limit)


def lowest_hull(store, campaign: str, max_e_above_hull: float | None = None,
                limit: int = 0) -> list[dict[str, Any]]:
    """Relaxed crystals of a campaign by energy above hull (eV/atom), lowest first;
    ``max_e_above_hull`` keeps those at or below it (exa-AMD: near the hull below 0.1)."""
    bound: dict[str, float] = {"$gte": -1e300}
    if max_e_above_hull is not None:
        bound["$lte"] = max_e_above_hull
    return query_structures(store, {"campaign": campaign, E_ABOVE_HULL: bound},
                            CRYSTAL_FIELDS, {E_ABOVE_HULL: 1}, limit)


__all__ = ["best_uptake", "lowest_hull", "query_structures", "stable_structures",
           "structures_store"]
