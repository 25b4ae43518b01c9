"""Campaign documents, and the read side: the numbers ``mofgen status``, ``mofgen run``'s
progress line and the dashboard show (counts per state, queue lengths, the summary)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from pymongo import ReturnDocument

from mofgen.documents import CampaignConfig, CampaignDoc, State, utcnow
from mofgen.errors import InvalidInput, NotFound
from mofgen.kinds import get_kind

CATEGORIES = ("gpu", "cpu", "mpi")
MAX_NAME = 64


def open_campaign(db, name: str, config: CampaignConfig | None = None) -> CampaignDoc:
    """Create the campaign, or resume it; a different config for an existing one is refused."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"campaign names use letters, digits, '-' and '_' only, got {name!r}")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"campaign names have at most {MAX_NAME} characters")
    if config is not None:  # refuse before anything is written
        get_kind(config.kind).check_config(config)
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


RUNNER_STALE_S = 60.0  # a runner that has not beaten for this long is presumed dead


def runner_alive(runner: dict[str, Any] | None) -> bool:
    """Is the ``mofgen run`` process holding a campaign still there? Its heartbeat is
    recent, and on this host its pid still exists."""
    if not runner:
        return False
    beat = runner["heartbeat"]
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.timezone.utc)
    if (utcnow() - beat).total_seconds() >= RUNNER_STALE_S:
        return False
    if runner["host"] == socket.gethostname():
        try:
            os.kill(runner["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def set_status(db, name: str, status: str) -> None:
    db.campaigns.update_one({"_id": name}, {"$set": {"status": status, "updated_at": utcnow()}})


def state_counts(db, name: str) -> dict[str, int]:
    """How many of the campaign's documents are in each state now."""
    return {state.value: db.structures.count_documents({"campaign": name,
                                                        "state": state.value})
            for state in State}


def reached_counts(db, name: str) -> dict[str, int]:
    """How many of the campaign's documents ever reached each state (from their history)."""
    return {state.value: db.structures.count_documents({"campaign": name,
                                                        "history.to": state.value})
            for state in State}


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
    """What ``mofgen status`` shows: counts, rates, the best structures, models, queues."""
    campaign = get_campaign(db, name)
    status = campaign.status
    runner = campaign.runner.model_dump() if campaign.runner else None
    if status == "running" and runner is not None and not runner_alive(runner):
        status = "interrupted"  # its mofgen run was killed; the same command resumes
    models = list(
        db.models.find({}, {"_id": 1, "parent": 1, "metrics": 1, "created_at": 1, "kind": 1})
        .sort("created_at", -1).limit(5)
    )
    return {
        "campaign": name,
        "kind": campaign.kind,
        "status": status,
        "states": state_counts(db, name),
        "reached": reached_counts(db, name),
        "rates_per_hour": _rates(db, name, dt.timedelta(hours=1)),
        "best": get_kind(campaign.kind).best(db, name),
        **get_kind(campaign.kind).status_extras(db, name, campaign.config),
        "model_versions": [{"version": m["_id"], "parent": m.get("parent"),
                            "kind": m.get("kind", "generator")} for m in models],
        "queues": queue_lengths(db),
    }


def all_campaign_names(db) -> list[str]:
    return sorted(d["_id"] for d in db.campaigns.find({}, {"_id": 1}))


__all__ = ["CATEGORIES", "State", "campaign_status", "get_campaign", "open_campaign",
           "queue_lengths", "reached_counts", "state_counts"]
