"""Campaign documents and the numbers ``mofgen status`` and the dashboard show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import ReturnDocument

from mofgen.documents import CampaignConfig, CampaignDoc, State, utcnow
from mofgen.errors import InvalidInput, NotFound
from mofgen.states import reached_counts, state_counts

CATEGORIES = ("gpu", "cpu", "mpi")


def open_campaign(db, name: str, config: CampaignConfig | None = None) -> CampaignDoc:
    """Create the campaign, or resume it; a different config for an existing one is refused."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"campaign names use letters, digits, '-' and '_' only, got {name!r}")
    if config is not None and config.kind == "crystal":  # refuse before anything is written
        from mofgen.crystal.campaign import check_config

        check_config(config)
    fresh = CampaignDoc(id=name, config=config or CampaignConfig())
    fresh.kind = fresh.config.kind
    doc = db.campaigns.find_one_and_update(
        {"_id": name},
        {"$setOnInsert": fresh.to_mongo()},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    campaign = CampaignDoc.from_mongo(doc)
    if config is not None:
        # the budget may change between runs; everything that shapes results may not
        if campaign.config.model_dump(exclude={"budget"}) != config.model_dump(
                exclude={"budget"}):
            raise InvalidInput(
                f"campaign {name!r} exists with a different config; use a new --campaign name"
            )
        if campaign.config.budget != config.budget:
            db.campaigns.update_one({"_id": name}, {"$set": {
                "config.budget": config.budget.model_dump(exclude_none=True)}})
            campaign.config.budget = config.budget
    return campaign


def get_campaign(db, name: str) -> CampaignDoc:
    doc = db.campaigns.find_one({"_id": name})
    if doc is None:
        known = ", ".join(sorted(d["_id"] for d in db.campaigns.find({}, {"_id": 1}))) or "none"
        raise NotFound(f"unknown campaign {name!r} (known: {known})")
    return CampaignDoc.from_mongo(doc)


def set_status(db, name: str, status: str) -> None:
    db.campaigns.update_one({"_id": name}, {"$set": {"status": status, "updated_at": utcnow()}})


def queue_lengths(db) -> dict[str, dict[str, int]]:
    """READY and RUNNING Fireworks per category, from FireWorks' own collection."""
    lengths = {cat: {"READY": 0, "RUNNING": 0} for cat in CATEGORIES}
    pipeline = [
        {"$match": {"state": {"$in": ["READY", "RUNNING"]}}},
        {"$group": {"_id": {"cat": "$spec._category", "state": "$state"}, "n": {"$sum": 1}}},
    ]
    for row in db.collection("fireworks").aggregate(pipeline):
        category = row["_id"].get("cat") or "cpu"
        lengths.setdefault(category, {"READY": 0, "RUNNING": 0})[row["_id"]["state"]] = row["n"]
    return lengths


def _rates(db, name: str, window: dt.timedelta) -> dict[str, float]:
    """Transitions into each state per hour over the last ``window``."""
    since = utcnow() - window
    pipeline = [
        {"$match": {"campaign": name, "updated_at": {"$gte": since}}},
        {"$unwind": "$history"},
        {"$match": {"history.time": {"$gte": since}}},
        {"$group": {"_id": "$history.to", "n": {"$sum": 1}}},
    ]
    hours = window.total_seconds() / 3600
    return {row["_id"]: round(row["n"] / hours, 2) for row in db.structures.aggregate(pipeline)}


def campaign_status(db, name: str) -> dict[str, Any]:
    campaign = get_campaign(db, name)
    best_uptake = list(
        db.structures.find(
            {"campaign": name, "adsorb.co2_uptake": {"$exists": True}},
            {"_id": 1, "adsorb.co2_uptake": 1, "validate.strain": 1, "identifiers.formula": 1},
        ).sort("adsorb.co2_uptake", -1).limit(5)
    )
    most_stable = list(
        db.structures.find(
            {"campaign": name, "validate.strain": {"$exists": True}},
            {"_id": 1, "validate.strain": 1, "identifiers.formula": 1},
        ).sort("validate.strain", 1).limit(5)
    )
    closest_to_hull = list(
        db.structures.find(
            {"campaign": name, "simulate.e_above_hull": {"$ne": None}},
            {"_id": 1, "simulate.e_above_hull": 1, "identifiers.formula": 1},
        ).sort("simulate.e_above_hull", 1).limit(5)
    ) if campaign.kind == "crystal" else []
    models = list(
        db.models.find({}, {"_id": 1, "parent": 1, "metrics": 1, "created_at": 1, "kind": 1})
        .sort("created_at", -1).limit(5)
    )
    return {
        "campaign": name,
        "kind": campaign.kind,
        "status": campaign.status,
        "states": state_counts(db.structures, name),
        "reached": reached_counts(db.structures, name),
        "rates_per_hour": _rates(db, name, dt.timedelta(hours=1)),
        "best_uptake": [
            {"id": d["_id"], "co2_uptake_mol_per_kg": d["adsorb"]["co2_uptake"],
             "formula": d.get("identifiers", {}).get("formula")} for d in best_uptake
        ],
        "most_stable": [
            {"id": d["_id"], "strain": d["validate"]["strain"],
             "formula": d.get("identifiers", {}).get("formula")} for d in most_stable
        ],
        "closest_to_hull": [
            {"id": d["_id"], "e_above_hull_eV_per_atom": d["simulate"]["e_above_hull"],
             "formula": d.get("identifiers", {}).get("formula")} for d in closest_to_hull
        ],
        "model_versions": [{"version": m["_id"], "parent": m.get("parent"),
                            "kind": m.get("kind", "generator")} for m in models],
        "queues": queue_lengths(db),
    }


def all_campaign_names(db) -> list[str]:
    return sorted(d["_id"] for d in db.campaigns.find({}, {"_id": 1}))


__all__ = ["CATEGORIES", "State", "campaign_status", "get_campaign", "open_campaign"]
