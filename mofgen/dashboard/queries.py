"""Read-only queries behind the dashboard and its JSON API.

Every query is bounded so pages stay fast at 100 000 structures on MongoDB and on the
embedded store: counts use range filters on indexed paths (answered in SQL on the
embedded store, from indexes on MongoDB), tables sort on one indexed path with a limit
(streamed, never sorted in memory) and never load the ``structure`` field, and charts are
built from per-bin counts or small per-bin samples instead of reading every document.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Any

from mofgen.documents import State
from mofgen.errors import InvalidInput, NotFound

STAGE_FIELDS = {  # stage → the indexed time its record was written
    "generate": "created_at",
    "validate": "validate.finished",
    "simulate": "simulate.finished",
    "adsorb": "adsorb.finished",
}
# Indexes the dashboard needs beyond stores.connection.INDEXES (to be added there).
EXTRA_INDEXES: list[list[tuple[str, int]]] = [
    [("campaign", 1), ("validate.finished", 1)],
    [("campaign", 1), ("simulate.finished", 1)],
    [("campaign", 1), ("adsorb.finished", 1)],
    [("campaign", 1), ("created_at", 1)],
    [("campaign", 1), ("adsorb.heat_of_adsorption_kJ_per_mol", 1)],
]
SORTS = {  # table column → (document path, default direction)
    "co2_uptake": ("adsorb.co2_uptake", -1),
    "strain": ("validate.strain", 1),
    "heat": ("adsorb.heat_of_adsorption_kJ_per_mol", 1),
    "created": ("created_at", -1),
    "updated": ("updated_at", -1),
}
TABLE_FIELDS = {
    "_id": 1, "state": 1, "kind": 1, "identifiers.formula": 1, "validate.strain": 1,
    "adsorb.co2_uptake": 1, "adsorb.co2_uptake_error": 1,
    "adsorb.heat_of_adsorption_kJ_per_mol": 1, "linkers.smiles": 1, "created_at": 1,
    "updated_at": 1,
}
MAX_PER_PAGE = 200
TIME_BINS = 24
UPTAKE_BINS = 20
STRAIN_SAMPLE_PER_BIN = 20
LOWEST = -1e300  # "$gte LOWEST" selects numbers only (and is an index range, unlike $exists)


class ReadOnlyCollection:
    """A collection that offers reads only, so the dashboard cannot modify the database."""

    _READS = ("find", "find_one", "count_documents", "aggregate", "distinct",
              "estimated_document_count")

    def __init__(self, collection):
        self._collection = collection

    def __getattr__(self, name: str):
        if name in self._READS:
            return getattr(self._collection, name)
        raise AttributeError(f"the dashboard is read-only: {name} is not available")


class ReadOnlyDB:
    """The subset of :class:`~mofgen.stores.connection.MofgenDB` the dashboard reads."""

    def __init__(self, db):
        self._db = db
        self.target = db.target

    def collection(self, name: str) -> ReadOnlyCollection:
        return ReadOnlyCollection(self._db.collection(name))

    @property
    def structures(self) -> ReadOnlyCollection:
        return self.collection("structures")

    @property
    def campaigns(self) -> ReadOnlyCollection:
        return self.collection("campaigns")

    @property
    def models(self) -> ReadOnlyCollection:
        return self.collection("models")


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


# ----------------------------------------------------------------------------- campaigns
def campaign_doc(db, name: str) -> dict[str, Any]:
    doc = db.campaigns.find_one({"_id": name})
    if doc is None:
        raise NotFound(f"unknown campaign {name!r}")
    return doc


def state_counts(db, name: str) -> dict[str, int]:
    return {s.value: db.structures.count_documents({"campaign": name, "state": s.value})
            for s in State}


def reached_counts(db, name: str) -> dict[str, int]:
    return {s.value: db.structures.count_documents({"campaign": name, "history.to": s.value})
            for s in State}


def campaigns_list(db) -> list[dict[str, Any]]:
    out = []
    for doc in db.campaigns.find({}, {"_id": 1, "kind": 1, "status": 1, "counters": 1,
                                      "created_at": 1, "updated_at": 1}).sort("_id", 1):
        states = state_counts(db, doc["_id"])
        out.append({"name": doc["_id"], "kind": doc.get("kind", "mof"),
                    "status": doc.get("status"), "counters": doc.get("counters", {}),
                    "states": states, "total": sum(states.values()),
                    "created_at": _aware(doc.get("created_at")),
                    "updated_at": _aware(doc.get("updated_at"))})
    return out


def queue_depths(db) -> dict[str, dict[str, int]]:
    depths: dict[str, dict[str, int]] = {c: {"READY": 0, "RUNNING": 0}
                                         for c in ("gpu", "cpu", "mpi")}
    fireworks = db.collection("fireworks")
    for category in list(depths):
        for state in ("READY", "RUNNING"):
            depths[category][state] = fireworks.count_documents(
                {"state": state, "spec._category": category})
    return depths


def models(db, name: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.models.find({}, {"checkpoint_file_id": 0, "training_set_ids": 0}) \
        .sort("created_at", -1).limit(limit)
    out = []
    for m in rows:
        if m.get("campaign") not in (None, name):
            continue
        out.append({"version": m["_id"], "kind": m.get("kind"), "parent": m.get("parent"),
                    "metrics": m.get("metrics", {}), "created_at": _aware(m.get("created_at"))})
    return out


def decisions(db, name: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.collection("decisions").find({"campaign": name}, {"_id": 0}) \
        .sort("time", -1).limit(limit)
    return [{**r, "time": _aware(r.get("time"))} for r in rows]


def campaign_summary(db, name: str) -> dict[str, Any]:
    doc = campaign_doc(db, name)
    return {
        "name": name, "kind": doc.get("kind", "mof"), "status": doc.get("status"),
        "counters": doc.get("counters", {}), "config": doc.get("config", {}),
        "created_at": _aware(doc.get("created_at")),
        "states": state_counts(db, name), "reached": reached_counts(db, name),
        "models": models(db, name), "queues": queue_depths(db),
        "decisions": decisions(db, name),
    }


# ----------------------------------------------------------------------------- table
def _get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def encode_after(value: Any, ties: int, page: int) -> str:
    """An opaque keyset cursor: the last sort value, rows already shown with it, page."""
    if isinstance(value, dt.datetime):
        value = {"$date": _aware(value).isoformat()}
    raw = json.dumps([value, ties, page]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(token: str) -> tuple[Any, int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, ties, page = json.loads(raw)
        if isinstance(value, dict):
            value = dt.datetime.fromisoformat(value["$date"])
        if not (isinstance(value, (int, float, dt.datetime)) and isinstance(ties, int)
                and isinstance(page, int) and ties >= 0 and page >= 2):
            raise ValueError
    except (ValueError, TypeError, KeyError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput(f"after is not a valid page cursor: {token!r}") from None
    return value, ties, page


def top_structures(
    db, name: str, sort: str = "co2_uptake", order: str | None = None, page: int = 1,
    per_page: int = 25, after: str | None = None,
) -> dict[str, Any]:
    """One page of structures that have the sort column, sorted on it (indexed).

    ``after`` (the ``next`` cursor of the previous page) continues from the last value
    shown, so deep pages cost one page of reads; ``page`` alone skips, which is fine on
    MongoDB and for the first pages but reads every skipped document on the embedded store.
    """
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    path, default = SORTS[sort]
    direction = default if order is None else {"asc": 1, "desc": -1}.get(order)
    if direction is None:
        raise InvalidInput(f"order must be asc or desc, got {order!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if page < 1:
        raise InvalidInput("page starts at 1")
    campaign_doc(db, name)
    bound = dt.datetime(1970, 1, 1) if path.endswith("_at") else LOWEST
    query: dict[str, Any] = {"campaign": name, path: {"$gte": bound}}
    total = db.structures.count_documents(query)
    pages = max(1, math.ceil(total / per_page))
    skip, prev_value, prev_ties = (page - 1) * per_page, None, 0
    if after:
        prev_value, prev_ties, page = decode_after(after)
        op = "$gte" if direction == 1 else "$lte"
        query[path] = {"$gte": bound, op: prev_value} if op == "$lte" else {"$gte": prev_value}
        skip = prev_ties
    if page > pages:
        raise NotFound(f"page {page} is beyond the last page ({pages})")
    docs = list(db.structures.find(query, TABLE_FIELDS).sort(path, direction)
                .skip(skip).limit(per_page))
    rows = []
    for d in docs:
        rows.append({
            "id": d["_id"], "state": d.get("state"),
            "formula": (d.get("identifiers") or {}).get("formula"),
            "strain": (d.get("validate") or {}).get("strain"),
            "co2_uptake": (d.get("adsorb") or {}).get("co2_uptake"),
            "co2_uptake_error": (d.get("adsorb") or {}).get("co2_uptake_error"),
            "heat": (d.get("adsorb") or {}).get("heat_of_adsorption_kJ_per_mol"),
            "linkers": [lk.get("smiles") for lk in d.get("linkers", [])],
            "created_at": _aware(d.get("created_at")),
        })
    next_cursor = None
    if docs and page < pages:
        last = _get(docs[-1], path)
        ties = 0
        for d in reversed(docs):
            if _get(d, path) != last:
                break
            ties += 1
        if ties == len(docs) and prev_value is not None and _aware(prev_value) == _aware(last):
            ties += prev_ties
        next_cursor = encode_after(last, ties, page + 1)
    return {"campaign": name, "sort": sort, "order": "asc" if direction == 1 else "desc",
            "page": page, "per_page": per_page, "total": total, "pages": pages, "rows": rows,
            "next": next_cursor}


# ----------------------------------------------------------------------------- charts
def _edge_value(db, name: str, path: str, direction: int) -> Any:
    bound = dt.datetime(1970, 1, 1)
    for d in db.structures.find({"campaign": name, path: {"$gte": bound}}, {path: 1}) \
            .sort(path, direction).limit(1):
        value: Any = d
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return _aware(value)
    return None


def time_edges(db, name: str, bins: int = TIME_BINS) -> list[dt.datetime]:
    """Equal time bins from the first structure to the last stage record (≥ 1 hour)."""
    start = _edge_value(db, name, "created_at", 1)
    if start is None:
        return []
    ends = [_edge_value(db, name, p, -1) for p in STAGE_FIELDS.values()]
    end = max(e for e in ends if e is not None)
    span = max((end - start).total_seconds(), 3600.0) * (1 + 1e-6)
    step = dt.timedelta(seconds=span / bins)
    return [start + i * step for i in range(bins + 1)]


def _bin_counts(db, query: dict, path: str, edges: list[dt.datetime]) -> list[int]:
    return [db.structures.count_documents({**query, path: {"$gte": lo, "$lt": hi}})
            for lo, hi in zip(edges[:-1], edges[1:])]


def campaign_charts(db, name: str, stable_strain: float = 0.10) -> dict[str, Any]:
    """Series for the campaign page's plots, from bounded counts and samples."""
    doc = campaign_doc(db, name)
    thresholds = (doc.get("config") or {}).get("thresholds") or {}
    stable_strain = float(thresholds.get("stable_strain", stable_strain))
    edges = time_edges(db, name)
    charts: dict[str, Any] = {"reached": reached_counts(db, name),
                              "stable_strain": stable_strain}
    if not edges:
        return {**charts, "time": [], "throughput": {}, "stable_cumulative": [],
                "strain_by_hour": [], "uptake_hist": {"edges": [], "counts": []}}
    mids = [lo + (hi - lo) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
    base = {"campaign": name}
    charts["time"] = mids
    charts["throughput"] = {stage: _bin_counts(db, base, path, edges)
                            for stage, path in STAGE_FIELDS.items()}
    stable = _bin_counts(db, {**base, "validate.strain": {"$gte": LOWEST, "$lt": stable_strain}},
                         "validate.finished", edges)
    charts["stable_cumulative"] = [sum(stable[:i + 1]) for i in range(len(stable))]
    charts["strain_by_hour"] = strain_by_hour(db, name, edges[0], edges[-1])
    charts["uptake_hist"] = uptake_histogram(db, name)
    return charts


def strain_by_hour(db, name: str, start: dt.datetime, end: dt.datetime,
                   max_columns: int = 24) -> list[dict[str, Any]]:
    """Per run hour (wider when the run is long): a sample of strains, by validation time."""
    hours = max(1, math.ceil((end - start).total_seconds() / 3600))
    width = max(1, math.ceil(hours / max_columns))
    out = []
    for k in range(0, hours, width):
        lo, hi = start + dt.timedelta(hours=k), start + dt.timedelta(hours=k + width)
        query = {"campaign": name, "validate.finished": {"$gte": lo, "$lt": hi}}
        rows = db.structures.find(query, {"validate.strain": 1}) \
            .sort("validate.finished", 1).limit(STRAIN_SAMPLE_PER_BIN)
        values = [r["validate"]["strain"] for r in rows
                  if isinstance((r.get("validate") or {}).get("strain"), (int, float))]
        out.append({"hour": k, "strains": values, "n": db.structures.count_documents(query)})
    return out


def uptake_histogram(db, name: str, bins: int = UPTAKE_BINS) -> dict[str, Any]:
    query = {"campaign": name, "adsorb.co2_uptake": {"$gte": LOWEST}}
    top = list(db.structures.find(query, {"adsorb.co2_uptake": 1})
               .sort("adsorb.co2_uptake", -1).limit(1))
    low = list(db.structures.find(query, {"adsorb.co2_uptake": 1})
               .sort("adsorb.co2_uptake", 1).limit(1))
    if not top:
        return {"edges": [], "counts": []}
    hi, lo = top[0]["adsorb"]["co2_uptake"], min(0.0, low[0]["adsorb"]["co2_uptake"])
    width = (hi - lo) / bins if hi > lo else 1.0
    edges = [lo + i * width for i in range(bins + 1)]
    edges[-1] = math.nextafter(hi, math.inf) if hi > lo else lo + width
    counts = [db.structures.count_documents(
        {"campaign": name, "adsorb.co2_uptake": {"$gte": a, "$lt": b}})
        for a, b in zip(edges[:-1], edges[1:])]
    return {"edges": edges, "counts": counts}


# ----------------------------------------------------------------------------- structure
def structure_doc(db, doc_id: str) -> dict[str, Any]:
    doc = db.structures.find_one({"_id": doc_id})
    if doc is None:
        raise NotFound(f"no structure {doc_id!r}")
    return doc


__all__ = [
    "EXTRA_INDEXES", "ReadOnlyDB", "campaign_charts", "campaign_summary", "campaigns_list",
    "structure_doc", "top_structures",
]
