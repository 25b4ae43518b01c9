"""Read-only queries behind the dashboard and its JSON API.

Every query is bounded so pages stay fast at 100 000 structures on MongoDB and on the
embedded store: counts use range filters on indexed paths (answered in SQL on the
embedded store, from indexes on MongoDB), tables sort on one indexed path with a limit
(streamed, never sorted in memory) and never load the ``structure`` field, and charts are
built from per-bin counts or small per-bin samples instead of reading every document.

What a campaign shows beyond the generic numbers comes from its kind
(:mod:`mofgen.kinds`): table columns and rows, the structure card, and the charts it
declares (:class:`~mofgen.kinds.base.Chart`), whose data is computed here and whose
server-side figures are drawn by :mod:`mofgen.dashboard.figures`. Counts per state and
queue lengths are :mod:`mofgen.campaigns`' (the same numbers ``mofgen status`` shows).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import Any

from mofgen.campaigns import queue_lengths, reached_counts, state_counts
from mofgen.dashboard import figures
from mofgen.documents import CampaignDoc, as_utc
from mofgen.errors import InvalidInput, NotFound
from mofgen.kinds import CampaignKind, get_kind, kind_of
from mofgen.kinds.base import Chart, Cumulative, Figure, Histogram, Samples
from mofgen.records import finished, get_path

GENERIC_SORTS = {  # every kind's table: column → (document path, default direction)
    "created": ("created_at", -1),
    "updated": ("updated_at", -1),
}
CREATED = "created_at"  # when a structure was generated (the "generate" stage's time)
MAX_PER_PAGE = 200
TIME_BINS = 24
SAMPLES_PER_BIN = 20
LOWEST = -1e300  # "$gte LOWEST" selects numbers only (and is an index range, unlike $exists)
EPOCH = dt.datetime(1970, 1, 1)


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


# ----------------------------------------------------------------------------- campaigns
def campaign_doc(db, name: str, projection: dict[str, int] | None = None) -> dict[str, Any]:
    doc = db.campaigns.find_one({"_id": name}, projection)
    if doc is None:
        raise NotFound(f"unknown campaign {name!r}")
    return doc


def campaign(db, name: str) -> CampaignDoc:
    """The typed campaign document (its config's kind section parsed)."""
    return CampaignDoc.from_mongo(campaign_doc(db, name))


def campaigns_list(db) -> list[dict[str, Any]]:
    out = []
    for doc in db.campaigns.find({}, {"_id": 1, "kind": 1, "status": 1, "counters": 1,
                                      "created_at": 1, "updated_at": 1}).sort("_id", 1):
        states = state_counts(db, doc["_id"])
        out.append({"name": doc["_id"], "kind": kind_of(doc).name,
                    "status": doc.get("status"), "counters": doc.get("counters", {}),
                    "states": states, "total": sum(states.values()),
                    "created_at": as_utc(doc.get("created_at")),
                    "updated_at": as_utc(doc.get("updated_at"))})
    return out


def models(db, name: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.models.find({}, {"checkpoint_file_id": 0, "training_set_ids": 0}) \
        .sort("created_at", -1).limit(limit)
    out = []
    for m in rows:
        if m.get("campaign") not in (None, name):
            continue
        out.append({"version": m["_id"], "kind": m.get("kind"), "parent": m.get("parent"),
                    "metrics": m.get("metrics", {}),
                    "created_at": as_utc(m.get("created_at"))})
    return out


def decisions(db, name: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.collection("decisions").find({"campaign": name}, {"_id": 0}) \
        .sort("time", -1).limit(limit)
    return [{**r, "time": as_utc(r.get("time"))} for r in rows]


def campaign_summary(db, name: str) -> dict[str, Any]:
    """The campaign page's numbers: counts of the kind's states (now and ever reached),
    models, queues, recent decisions, and the kind's own facts (``summary``)."""
    camp = campaign(db, name)
    kind = get_kind(camp.kind)
    now, reached = state_counts(db, name), reached_counts(db, name)
    summary = {
        "name": name, "kind": camp.kind, "status": camp.status, "counters": camp.counters,
        "config": camp.config.model_dump(mode="json"), "created_at": camp.created_at,
        "states": {s: now.get(s, 0) for s in kind.states()},
        "reached": {s: reached.get(s, 0) for s in kind.states()},
        "models": models(db, name), "queues": queue_lengths(db),
        "decisions": decisions(db, name),
    }
    extras = kind.summary(camp)
    summary["facts"] = {k: v for k, v in extras.items() if isinstance(v, (str, int, float))}
    summary["tables"] = kind.status_tables(kind.status_extras(db, name, camp.config))
    return {**summary, **extras}


# ----------------------------------------------------------------------------- table
def sorts_for(kind: str | CampaignKind) -> dict[str, tuple[str, int]]:
    """The table's sort columns for a campaign kind: the kind's sortable columns (its
    first is the default), then the generic ones; column → (path, default direction)."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    return {**{k: (c.path, c.sort) for k, c in kind.sort_columns().items()}, **GENERIC_SORTS}


def encode_after(value: Any, ties: int, page: int) -> str:
    """An opaque keyset cursor: the last sort value, rows already shown with it, page."""
    if isinstance(value, dt.datetime):
        value = {"$date": as_utc(value).isoformat()}
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
    db, name: str, sort: str | None = None, order: str | None = None, page: int = 1,
    per_page: int = 25, after: str | None = None,
) -> dict[str, Any]:
    """One page of structures that have the sort column, sorted on it (indexed).

    ``sort`` defaults to the kind's first sortable column (CO2 uptake for MOF campaigns,
    energy above hull for crystal campaigns). ``after`` (the ``next`` cursor of the
    previous page) continues from the last value shown, so deep pages cost one page of
    reads; ``page`` alone skips, which is fine on MongoDB and for the first pages but
    reads every skipped document on the embedded store.
    """
    kind = kind_of(campaign_doc(db, name, {"kind": 1}))
    sorts = sorts_for(kind)
    sort = sort or kind.default_sort() or "created"
    if sort not in sorts:
        raise InvalidInput(f"sort must be one of {', '.join(sorts)} for a {kind.name} "
                           f"campaign, got {sort!r}")
    path, default = sorts[sort]
    direction = default if order is None else {"asc": 1, "desc": -1}.get(order)
    if direction is None:
        raise InvalidInput(f"order must be asc or desc, got {order!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if page < 1:
        raise InvalidInput("page starts at 1")
    bound = EPOCH if path.endswith("_at") else LOWEST
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
    fields = {**kind.projection(), path: 1}
    docs = list(db.structures.find(query, fields).sort(path, direction)
                .skip(skip).limit(per_page))
    next_cursor = None
    if docs and page < pages:
        last = get_path(docs[-1], path)
        ties = 0
        for d in reversed(docs):
            if get_path(d, path) != last:
                break
            ties += 1
        if ties == len(docs) and prev_value is not None \
                and as_utc(prev_value) == as_utc(last):
            ties += prev_ties
        next_cursor = encode_after(last, ties, page + 1)
    return {"campaign": name, "kind": kind.name, "sort": sort,
            "order": "asc" if direction == 1 else "desc", "page": page, "per_page": per_page,
            "total": total, "pages": pages, "rows": [kind.row(d) for d in docs],
            "next": next_cursor}


def table_columns(kind: CampaignKind) -> list[dict[str, Any]]:
    """The table's columns after id, state and formula: the kind's, then ``created``."""
    sorts = sorts_for(kind)
    columns = [{"key": c.key, "label": f"{c.label} ({c.unit})" if c.unit else c.label,
                "sortable": c.key in sorts} for c in kind.columns]
    return [*columns, {"key": "created_at", "label": "created", "sort_key": "created",
                       "sortable": True}]


# ----------------------------------------------------------------------------- charts
def stage_times(kind: CampaignKind) -> dict[str, str]:
    """Per-structure stage → the indexed time its record was written (generate: created)."""
    return {stage.name: CREATED if stage.source is None else finished(stage.name)
            for stage in kind.ladder if stage.scope != "campaign" or stage.source is None}


def _edge_value(db, name: str, path: str, direction: int) -> Any:
    for d in db.structures.find({"campaign": name, path: {"$gte": EPOCH}}, {path: 1}) \
            .sort(path, direction).limit(1):
        return as_utc(get_path(d, path))
    return None


def time_edges(db, name: str, times: list[str], bins: int = TIME_BINS) -> list[dt.datetime]:
    """Equal time bins from the first structure to the last stage record (≥ 1 hour)."""
    start = _edge_value(db, name, CREATED, 1)
    if start is None:
        return []
    ends = [_edge_value(db, name, p, -1) for p in times]
    end = max(e for e in ends if e is not None)
    span = max((end - start).total_seconds(), 3600.0) * (1 + 1e-6)
    step = dt.timedelta(seconds=span / bins)
    return [start + i * step for i in range(bins + 1)]


def _bin_counts(db, query: dict, path: str, edges: list[dt.datetime]) -> list[int]:
    return [db.structures.count_documents({**query, path: {"$gte": lo, "$lt": hi}})
            for lo, hi in zip(edges[:-1], edges[1:])]


def histogram(db, name: str, path: str, bins: int, width_if_flat: float = 1.0
              ) -> dict[str, Any]:
    """Equal bins from min(lowest value, 0) to the highest value of ``path`` (counts only)."""
    query = {"campaign": name, path: {"$gte": LOWEST}}
    top = list(db.structures.find(query, {path: 1}).sort(path, -1).limit(1))
    low = list(db.structures.find(query, {path: 1}).sort(path, 1).limit(1))
    if not top:
        return {"edges": [], "counts": []}
    hi, lo = get_path(top[0], path), min(0.0, get_path(low[0], path))
    width = (hi - lo) / bins if hi > lo else width_if_flat
    edges = [lo + i * width for i in range(bins + 1)]
    edges[-1] = math.nextafter(hi, math.inf) if hi > lo else lo + width
    counts = [db.structures.count_documents({"campaign": name, path: {"$gte": a, "$lt": b}})
              for a, b in zip(edges[:-1], edges[1:])]
    return {"edges": edges, "counts": counts}


def samples_by_hour(db, name: str, path: str, time: str, start: dt.datetime,
                    end: dt.datetime, max_columns: int = 24) -> list[dict[str, Any]]:
    """Per run hour (wider when the run is long): a sample of ``path`` by ``time``."""
    hours = max(1, math.ceil((end - start).total_seconds() / 3600))
    width = max(1, math.ceil(hours / max_columns))
    out = []
    for k in range(0, hours, width):
        lo, hi = start + dt.timedelta(hours=k), start + dt.timedelta(hours=k + width)
        query = {"campaign": name, time: {"$gte": lo, "$lt": hi}}
        rows = db.structures.find(query, {path: 1}).sort(time, 1).limit(SAMPLES_PER_BIN)
        values = [v for v in (get_path(r, path) for r in rows) if isinstance(v, (int, float))]
        out.append({"hour": k, "values": values, "n": db.structures.count_documents(query)})
    return out


def chart_data(db, name: str, chart: Chart, edges: list[dt.datetime]) -> Any:
    """The data of one of the kind's charts (figures excepted: see ``campaign_figure``)."""
    if isinstance(chart, Histogram):
        return histogram(db, name, chart.path, chart.bins, chart.width_if_flat)
    if isinstance(chart, Cumulative):
        if not edges:
            return []
        below = {"$gte": LOWEST, "$lte" if chart.inclusive else "$lt": chart.upper}
        counts = _bin_counts(db, {"campaign": name, chart.path: below}, chart.time, edges)
        return [sum(counts[:i + 1]) for i in range(len(counts))]
    if isinstance(chart, Samples):
        return samples_by_hour(db, name, chart.path, chart.time, edges[0], edges[-1]) \
            if edges else []
    raise TypeError(f"the dashboard cannot compute a {type(chart).__name__} chart")


def chart_spec(chart: Chart) -> dict[str, Any]:
    """How the page draws a chart (JSON): its type and the fields its plot needs."""
    spec = {"type": type(chart).__name__.lower(), "id": chart.id, "key": chart.key,
            "title": chart.title}
    for name in ("unit", "noun", "marker", "empty", "draw"):
        if hasattr(chart, name):
            spec[name] = getattr(chart, name)
    return spec


def page_charts(camp: CampaignDoc) -> list[dict[str, Any]]:
    """The plots of a campaign page, in order: the kind's figures, the funnel and the
    throughput every kind has, then the kind's other charts."""
    charts = get_kind(camp.kind).charts(camp)
    generic = [{"type": "funnel", "id": "funnel", "key": "reached"},
               {"type": "throughput", "id": "throughput", "key": "throughput"}]
    return [*[chart_spec(c) for c in charts if isinstance(c, Figure)], *generic,
            *[chart_spec(c) for c in charts if not isinstance(c, Figure)]]


def campaign_charts(db, name: str) -> dict[str, Any]:
    """Series for the campaign page's plots, from bounded counts and samples: the funnel
    (``reached``, in ladder order ``states``), throughput per stage over ``time``, and the
    data of each chart the kind declares under its ``key``; ``plots`` says how to draw
    them. Figures the kind computes itself are served by ``campaign_figure``."""
    camp = campaign(db, name)
    kind = get_kind(camp.kind)
    charts = [c for c in kind.charts(camp) if not isinstance(c, Figure)]
    times = stage_times(kind)
    reached = reached_counts(db, name)
    edges = time_edges(db, name, list(times.values()))
    out: dict[str, Any] = {"kind": kind.name, "states": kind.ladder_states(),
                           "reached": {s: reached.get(s, 0) for s in kind.ladder_states()},
                           "plots": [chart_spec(c) for c in charts], "time": [],
                           "throughput": {}}
    if edges:
        out["time"] = [lo + (hi - lo) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
        out["throughput"] = {stage: _bin_counts(db, {"campaign": name}, path, edges)
                             for stage, path in times.items()}
    for chart in charts:
        out[chart.key] = chart_data(db, name, chart, edges)
    return out


def campaign_figure(db, name: str, figure_id: str) -> dict[str, Any]:
    """A figure the campaign's kind computes (e.g. a crystal campaign's phase diagram),
    drawn by :mod:`mofgen.dashboard.figures`; NotFound when the kind has no such figure."""
    camp = campaign(db, name)
    for chart in get_kind(camp.kind).charts(camp):
        if isinstance(chart, Figure) and chart.id == figure_id:
            return figures.draw(chart.draw, chart.data(db))
    raise NotFound(f"campaign {name!r} is a {camp.kind} campaign: it has no {figure_id} "
                   "figure")


def phase_diagram(db, name: str) -> dict[str, Any]:
    """A crystal campaign's phase diagram: references, candidates and a plotly figure."""
    return campaign_figure(db, name, "phase-diagram")


# ----------------------------------------------------------------------------- structure
def structure_doc(db, doc_id: str) -> dict[str, Any]:
    doc = db.structures.find_one({"_id": doc_id})
    if doc is None:
        raise NotFound(f"no structure {doc_id!r}")
    return doc


__all__ = [
    "ReadOnlyDB", "campaign_charts", "campaign_figure", "campaign_summary", "campaigns_list",
    "page_charts", "phase_diagram", "sorts_for", "structure_doc", "table_columns",
    "top_structures",
]
