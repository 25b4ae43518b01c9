"""Read-only queries behind the dashboard and its JSON API.

Every query is bounded so pages stay fast at 100 000 structures on MongoDB and on the
embedded store: counts use range filters on indexed paths (answered in SQL on the
embedded store, from indexes on MongoDB), tables sort on one indexed path with a limit
(streamed, never sorted in memory) and never load the ``structure`` field, and charts are
built from per-bin counts or small per-bin samples instead of reading every document.

Crystal campaigns (``kind: crystal``) get their own table columns (``CRYSTAL_SORTS``), charts
(energy-above-hull histogram instead of strain and CO2 uptake) and a phase diagram: the
campaign's reference phases plus its simulated candidates (the ``MAX_PD_CANDIDATES``
lowest in energy above hull), as a plotly figure built here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from typing import TYPE_CHECKING, Any

from mofgen.documents import State
from mofgen.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from pymatgen.analysis.phase_diagram import PhaseDiagram

STAGE_FIELDS = {  # stage → the indexed time its record was written
    "generate": "created_at",
    "validate": "validate.finished",
    "simulate": "simulate.finished",
    "adsorb": "adsorb.finished",
}
SORTS = {  # MOF campaigns: table column → (document path, default direction)
    "co2_uptake": ("adsorb.co2_uptake", -1),
    "strain": ("validate.strain", 1),
    "heat": ("adsorb.heat_of_adsorption_kJ_per_mol", 1),
    "created": ("created_at", -1),
    "updated": ("updated_at", -1),
}
CRYSTAL_SORTS = {  # crystal campaigns: energies in eV/atom
    "e_above_hull": ("simulate.e_above_hull", 1),
    "formation_energy": ("simulate.formation_energy_per_atom", 1),
    "screen_formation_energy": ("validate.formation_energy_per_atom", 1),
    "created": ("created_at", -1),
    "updated": ("updated_at", -1),
}
DEFAULT_SORT = {"mof": "co2_uptake", "crystal": "e_above_hull"}
TABLE_FIELDS = {
    "_id": 1, "state": 1, "kind": 1, "identifiers.formula": 1, "validate.strain": 1,
    "adsorb.co2_uptake": 1, "adsorb.co2_uptake_error": 1,
    "adsorb.heat_of_adsorption_kJ_per_mol": 1, "linkers.smiles": 1, "created_at": 1,
    "updated_at": 1,
}
CRYSTAL_TABLE_FIELDS = {
    "_id": 1, "state": 1, "kind": 1, "identifiers.formula": 1, "identifiers.crystal_key": 1,
    "origin.prototype": 1, "origin.substitution": 1, "validate.formation_energy_per_atom": 1,
    "simulate.energy_per_atom": 1, "simulate.formation_energy_per_atom": 1,
    "simulate.e_above_hull": 1, "simulate.near_hull": 1, "created_at": 1, "updated_at": 1,
}
CRYSTAL_STATES = ("generated", "validated", "simulated", "retrained")  # no adsorption
MAX_PER_PAGE = 200
TIME_BINS = 24
UPTAKE_BINS = 20
HULL_BINS = 20
MAX_PD_CANDIDATES = 500  # candidates drawn in the phase diagram (lowest E_hull first)
MAX_PD_LABELS = 25  # near-hull candidates labelled with their formula
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
def campaign_doc(db, name: str, projection: dict[str, int] | None = None) -> dict[str, Any]:
    doc = db.campaigns.find_one({"_id": name}, projection)
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
    summary = {
        "name": name, "kind": doc.get("kind", "mof"), "status": doc.get("status"),
        "counters": doc.get("counters", {}), "config": doc.get("config", {}),
        "created_at": _aware(doc.get("created_at")),
        "states": state_counts(db, name), "reached": reached_counts(db, name),
        "models": models(db, name), "queues": queue_depths(db),
        "decisions": decisions(db, name),
    }
    if summary["kind"] == "crystal":
        summary["system"] = (doc.get("config") or {}).get("system")
        summary["references"] = references_summary(doc.get("references"))
    return summary


def references_summary(references: Any) -> dict[str, Any] | None:
    """Method and phase names of a campaign's stored references (not the structures)."""
    if not isinstance(references, dict):
        return None
    entries = references.get("entries") if isinstance(references.get("entries"), list) else []
    names = [((e.get("data") or {}).get("name") if isinstance(e, dict) else None) or "?"
             for e in entries]
    return {"method": references.get("method"), "count": len(entries), "phases": names}


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


def sorts_for(kind: str) -> dict[str, tuple[str, int]]:
    """The table's sort columns for a campaign kind (``mof`` or ``crystal``)."""
    return CRYSTAL_SORTS if kind == "crystal" else SORTS


def top_structures(
    db, name: str, sort: str | None = None, order: str | None = None, page: int = 1,
    per_page: int = 25, after: str | None = None,
) -> dict[str, Any]:
    """One page of structures that have the sort column, sorted on it (indexed).

    ``sort`` defaults to CO2 uptake for MOF campaigns and to energy above hull for crystal
    campaigns. ``after`` (the ``next`` cursor of the previous page) continues from the last
    value shown, so deep pages cost one page of reads; ``page`` alone skips, which is fine
    on MongoDB and for the first pages but reads every skipped document on the embedded store.
    """
    kind = campaign_doc(db, name, {"kind": 1}).get("kind", "mof")
    sorts = sorts_for(kind)
    sort = sort or DEFAULT_SORT.get(kind, "co2_uptake")
    if sort not in sorts:
        raise InvalidInput(f"sort must be one of {', '.join(sorts)} for a {kind} campaign, "
                           f"got {sort!r}")
    path, default = sorts[sort]
    direction = default if order is None else {"asc": 1, "desc": -1}.get(order)
    if direction is None:
        raise InvalidInput(f"order must be asc or desc, got {order!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be between 1 and {MAX_PER_PAGE}")
    if page < 1:
        raise InvalidInput("page starts at 1")
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
    fields = CRYSTAL_TABLE_FIELDS if kind == "crystal" else TABLE_FIELDS
    docs = list(db.structures.find(query, fields).sort(path, direction)
                .skip(skip).limit(per_page))
    rows = [crystal_row(d) if kind == "crystal" else mof_row(d) for d in docs]
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
    return {"campaign": name, "kind": kind, "sort": sort,
            "order": "asc" if direction == 1 else "desc", "page": page, "per_page": per_page,
            "total": total, "pages": pages, "rows": rows, "next": next_cursor}


def mof_row(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": d["_id"], "state": d.get("state"),
        "formula": (d.get("identifiers") or {}).get("formula"),
        "strain": (d.get("validate") or {}).get("strain"),
        "co2_uptake": (d.get("adsorb") or {}).get("co2_uptake"),
        "co2_uptake_error": (d.get("adsorb") or {}).get("co2_uptake_error"),
        "heat": (d.get("adsorb") or {}).get("heat_of_adsorption_kJ_per_mol"),
        "linkers": [lk.get("smiles") for lk in d.get("linkers", [])],
        "created_at": _aware(d.get("created_at")),
    }


def crystal_row(d: dict[str, Any]) -> dict[str, Any]:
    """A crystal's table row; energies in eV/atom."""
    ids, origin = d.get("identifiers") or {}, d.get("origin") or {}
    validate, simulate = d.get("validate") or {}, d.get("simulate") or {}
    return {
        "id": d["_id"], "state": d.get("state"), "formula": ids.get("formula"),
        "crystal_key": ids.get("crystal_key"), "prototype": origin.get("prototype"),
        "substitution": origin.get("substitution"),
        "screen_formation_energy": validate.get("formation_energy_per_atom"),
        "formation_energy": simulate.get("formation_energy_per_atom"),
        "e_above_hull": simulate.get("e_above_hull"), "near_hull": simulate.get("near_hull"),
        "created_at": _aware(d.get("created_at")),
    }


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
    doc = campaign_doc(db, name, {"kind": 1, "config": 1})
    if doc.get("kind") == "crystal":
        return crystal_charts(db, name, hull_threshold(doc))
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


def histogram(db, name: str, path: str, bins: int, width_if_flat: float = 1.0
              ) -> dict[str, Any]:
    """Equal bins from min(lowest value, 0) to the highest value of ``path`` (counts only)."""
    query = {"campaign": name, path: {"$gte": LOWEST}}
    top = list(db.structures.find(query, {path: 1}).sort(path, -1).limit(1))
    low = list(db.structures.find(query, {path: 1}).sort(path, 1).limit(1))
    if not top:
        return {"edges": [], "counts": []}
    hi, lo = _get(top[0], path), min(0.0, _get(low[0], path))
    width = (hi - lo) / bins if hi > lo else width_if_flat
    edges = [lo + i * width for i in range(bins + 1)]
    edges[-1] = math.nextafter(hi, math.inf) if hi > lo else lo + width
    counts = [db.structures.count_documents({"campaign": name, path: {"$gte": a, "$lt": b}})
              for a, b in zip(edges[:-1], edges[1:])]
    return {"edges": edges, "counts": counts}


def uptake_histogram(db, name: str, bins: int = UPTAKE_BINS) -> dict[str, Any]:
    return histogram(db, name, "adsorb.co2_uptake", bins)


# ----------------------------------------------------------------------------- crystals
def hull_threshold(doc: dict[str, Any]) -> float:
    """The campaign's E_hull threshold (eV/atom) for "near the hull"."""
    crystal = ((doc.get("config") or {}).get("crystal") or {})
    return float(crystal.get("hull_threshold_eV", 0.1))


def crystal_charts(db, name: str, threshold: float) -> dict[str, Any]:
    """Funnel, throughput, near-hull discoveries over time and the E_hull histogram."""
    charts: dict[str, Any] = {"kind": "crystal", "reached": reached_counts(db, name),
                              "states": list(CRYSTAL_STATES), "hull_threshold": threshold,
                              "ehull_hist": histogram(db, name, "simulate.e_above_hull",
                                                      HULL_BINS, width_if_flat=0.01)}
    edges = time_edges(db, name)
    if not edges:
        return {**charts, "time": [], "throughput": {}, "near_hull_cumulative": []}
    base = {"campaign": name}
    stages = ("generate", "validate", "simulate")
    charts["time"] = [lo + (hi - lo) / 2 for lo, hi in zip(edges[:-1], edges[1:])]
    charts["throughput"] = {stage: _bin_counts(db, base, STAGE_FIELDS[stage], edges)
                            for stage in stages}
    near = _bin_counts(db, {**base, "simulate.e_above_hull": {"$gte": LOWEST,
                                                              "$lte": threshold}},
                       "simulate.finished", edges)
    charts["near_hull_cumulative"] = [sum(near[:i + 1]) for i in range(len(near))]
    return charts


def _fraction_text(comp, elements: list[str]) -> str:
    return "<br>".join(f"{el}: {comp.get_atomic_fraction(el):.3g}" for el in elements)


def phase_diagram(db, name: str, max_candidates: int = MAX_PD_CANDIDATES) -> dict[str, Any]:
    """The hull of a crystal campaign: references, candidates and a plotly figure.

    The hull drawn is that of the references plus the candidates shown (so a candidate
    below the references' hull appears as a new vertex); ``e_above_hull`` of a candidate is
    the stored one (``simulate.e_above_hull``, against the references). Energies in eV/atom.
    Without references or simulated candidates the answer says so in ``message`` and
    ``figure`` is ``None`` when there is nothing to draw.
    """
    doc = campaign_doc(db, name, {"kind": 1, "config": 1, "references": 1})
    if doc.get("kind") != "crystal":
        raise NotFound(f"campaign {name!r} is a {doc.get('kind', 'mof')} campaign; "
                       "phase diagrams are for crystal campaigns")
    threshold = hull_threshold(doc)
    system = (doc.get("config") or {}).get("system")
    query = {"campaign": name, "simulate.e_above_hull": {"$gte": LOWEST}}
    out: dict[str, Any] = {
        "campaign": name, "system": system, "hull_threshold": threshold, "method": None,
        "elements": system.split("-") if system else [], "references": [], "candidates": [],
        "candidates_total": db.structures.count_documents(query), "skipped": [],
        "figure": None, "message": None,
    }
    refs = doc.get("references")
    if not refs:
        out["message"] = "no reference phases yet: the hull is built when the campaign starts"
        return out
    try:
        from mofgen.crystal.energy import References

        references = References.from_dict(refs)
        ref_pd = references.phase_diagram
    except (KeyError, TypeError, ValueError, AttributeError, InvalidInput) as exc:
        out["message"] = f"the stored reference phases cannot be used: {exc}".splitlines()[0]
        return out
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    elements = [el.symbol for el in ref_pd.elements]
    if system and sorted(system.split("-")) == sorted(elements):
        elements = system.split("-")
    out.update(method=references.method, elements=elements)
    for entry in references.entries:
        out["references"].append({
            "name": entry.data.get("name") or entry.reduced_formula,
            "formula": entry.reduced_formula, "energy_per_atom": entry.energy_per_atom,
            "formation_energy_per_atom": ref_pd.get_form_energy_per_atom(entry),
            "e_above_hull": ref_pd.get_e_above_hull(entry, allow_negative=True),
            "stable": entry in ref_pd.stable_entries})
    fields = {"state": 1, "identifiers.formula": 1, "identifiers.crystal_key": 1,
              "origin.prototype": 1, "simulate.energy_per_atom": 1,
              "simulate.formation_energy_per_atom": 1, "simulate.e_above_hull": 1,
              "simulate.near_hull": 1}
    pd_entries = []
    for d in db.structures.find(query, fields).sort("simulate.e_above_hull", 1) \
            .limit(max_candidates):
        sim, ids = d.get("simulate") or {}, d.get("identifiers") or {}
        formula = ids.get("formula") or (ids.get("crystal_key") or "").split(":")[0]
        energy = sim.get("energy_per_atom")
        try:
            comp = Composition(formula) if formula else None
        except (ValueError, KeyError):
            comp = None
        if not comp or not isinstance(energy, (int, float)) or not math.isfinite(energy) \
                or {el.symbol for el in comp.elements} - set(elements):
            out["skipped"].append(d["_id"])  # no usable formula or energy, or off-system
            continue
        e_hull = sim.get("e_above_hull")
        row = {"id": d["_id"], "state": d.get("state"), "formula": comp.reduced_formula,
               "prototype": (d.get("origin") or {}).get("prototype"),
               "energy_per_atom": energy,
               "formation_energy_per_atom": sim.get("formation_energy_per_atom"),
               "e_above_hull": e_hull,
               "near_hull": bool(sim.get("near_hull", e_hull <= threshold))}
        out["candidates"].append(row)
        pd_entries.append(PDEntry(comp, energy * comp.num_atoms, name=str(d["_id"])))
    if not out["candidates"]:
        out["message"] = "no simulated crystals yet: the plot shows the reference phases"
    pd = PhaseDiagram(list(references.entries) + pd_entries) if pd_entries else ref_pd
    out["figure"] = phase_diagram_figure(pd, out, elements, list(references.entries),
                                         pd_entries)
    if out["figure"] is None:
        out["message"] = (f"the plot is drawn for 2 or 3 elements ({len(elements)} here); "
                          "see the table")
    return out


def _hull_edges(pd: PhaseDiagram) -> list[tuple[Any, Any]]:
    edges = {(i, j) for facet in pd.facets for i in facet for j in facet if i < j}
    return [(pd.qhull_entries[i], pd.qhull_entries[j]) for i, j in sorted(edges)]


def phase_diagram_figure(pd: PhaseDiagram, data: dict[str, Any], elements: list[str],
                         ref_entries: list[Any], cand_entries: list[Any]
                         ) -> dict[str, Any] | None:
    """A plotly figure (``{"data", "layout"}``) of the hull: formation energy against
    composition for a binary system, a ternary diagram for three elements (candidates
    coloured by E_hull, near-hull ones labelled), ``None`` beyond three elements."""
    dim = len(elements)
    if dim not in (2, 3):
        return None
    kind = "scatter" if dim == 2 else "scatterternary"

    def place(entries: list[Any]) -> dict[str, list[Any]]:
        comps = [e.composition for e in entries]
        if dim == 2:
            return {"x": [c.get_atomic_fraction(elements[1]) for c in comps],
                    "y": [pd.get_form_energy_per_atom(e) for e in entries]}
        return {axis: [c.get_atomic_fraction(el) for c in comps]
                for axis, el in zip("abc", elements)}

    line = {"type": kind, "mode": "lines", "name": "hull", "hoverinfo": "skip",
            "showlegend": False, "line": {"color": "#777", "width": 1}}
    if dim == 2:
        vertices = sorted(pd.stable_entries,
                          key=lambda e: e.composition.get_atomic_fraction(elements[1]))
        traces: list[dict[str, Any]] = [{**line, **place(vertices)}]
    else:
        pts: dict[str, list[Any]] = {"a": [], "b": [], "c": []}
        for pair in _hull_edges(pd):
            for axis, values in place(list(pair)).items():
                pts[axis] += [*values, None]
        traces = [{**line, **pts}]

    refs = data["references"]
    for stable in (True, False):
        group = [i for i, r in enumerate(refs) if r["stable"] == stable]
        if not group:
            continue
        entries = [ref_entries[i] for i in group]
        traces.append({
            "type": kind, "mode": "markers+text" if stable else "markers",
            "name": "references on hull" if stable else "references above hull",
            **place(entries), "text": [refs[i]["formula"] for i in group],
            "textposition": "top center", "hoverinfo": "text",
            "hovertext": [f"{refs[i]['name']}<br>E_f {refs[i]['formation_energy_per_atom']:.3f}"
                          f" eV/atom<br>E_hull {refs[i]['e_above_hull']:.3f} eV/atom<br>"
                          + _fraction_text(e.composition, elements)
                          for i, e in zip(group, entries)],
            "marker": {"symbol": "diamond", "size": 11, "color": "#222" if stable else "#aaa"},
        })

    cands = data["candidates"]
    if cands:
        near = sorted((c["e_above_hull"], c["id"]) for c in cands if c["near_hull"])
        labelled = {i for _, i in near[:MAX_PD_LABELS]}
        ehull = [c["e_above_hull"] for c in cands]
        traces.append({
            "type": kind, "mode": "markers+text", "name": "candidates", **place(cand_entries),
            "text": [c["formula"] if c["id"] in labelled else "" for c in cands],
            "textposition": "bottom center", "customdata": [c["id"] for c in cands],
            "hoverinfo": "text",
            "hovertext": [f"{c['id']}<br>{c['formula']} ({c['prototype'] or '?'}), {c['state']}"
                          f"<br>E_hull {c['e_above_hull']:.3f} eV/atom" for c in cands],
            "marker": {"size": 8, "color": ehull, "colorscale": "Viridis",
                       "cmin": min(0.0, *ehull), "cmax": max(2 * data["hull_threshold"], 1e-3),
                       "colorbar": {"title": {"text": "E_hull<br>eV/atom"}},
                       "line": {"width": 0.5, "color": "#333"}},
        })

    title = f"{'-'.join(elements)} ({data['method']}): hull of references"
    title += " + candidates" if cands else ""
    layout: dict[str, Any] = {"title": {"text": title, "font": {"size": 14}},
                              "margin": {"t": 50, "r": 20, "b": 45, "l": 55},
                              "legend": {"orientation": "h"}, "hovermode": "closest"}
    if dim == 2:
        layout["xaxis"] = {"title": {"text": f"fraction {elements[1]}"}, "range": [-0.02, 1.02]}
        layout["yaxis"] = {"title": {"text": "formation energy (eV/atom)"}}
    else:
        layout["ternary"] = {f"{axis}axis": {"title": {"text": el}}
                             for axis, el in zip("abc", elements)}
    return {"data": traces, "layout": layout}


# ----------------------------------------------------------------------------- structure
def structure_doc(db, doc_id: str) -> dict[str, Any]:
    doc = db.structures.find_one({"_id": doc_id})
    if doc is None:
        raise NotFound(f"no structure {doc_id!r}")
    return doc


def crystal_card(doc: dict[str, Any]) -> dict[str, Any]:
    """What the structure page shows of a crystal: origin, screen and hull (eV/atom)."""
    validate, simulate = doc.get("validate") or {}, doc.get("simulate") or {}
    origin = dict(doc.get("origin") or {})
    return {
        "crystal_key": (doc.get("identifiers") or {}).get("crystal_key"),
        "origin": origin,
        "screen": {k: validate.get(k) for k in ("energy_per_atom", "formation_energy_per_atom",
                                                "method", "screener_version")
                   if k in validate},
        "hull": {k: simulate.get(k) for k in ("energy_per_atom", "formation_energy_per_atom",
                                              "e_above_hull", "near_hull", "hull_threshold",
                                              "converged", "relax_steps", "method")
                 if k in simulate},
    }


__all__ = [
    "CRYSTAL_SORTS", "ReadOnlyDB", "campaign_charts", "campaign_summary",
    "campaigns_list", "crystal_card", "phase_diagram", "sorts_for", "structure_doc",
    "top_structures",
]
