"""Writing an export: selection, streaming in ``_id`` order, files, checksums, metadata.

Kinds with database records (``CampaignKind.export_record_model``) also get
``records.jsonl``: one typed record per structure (:mod:`.record`), documented field by
field in the README.

Re-exporting the same data gives byte-identical files: documents are written in ``_id``
order with sorted keys, and no file records the time of the export (the newest
``updated_at`` of the exported documents stands in for it). Memory stays bounded: ids
are selected first, documents are read in batches of :data:`BATCH`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mofgen.documents import DEFAULT_KIND, StructureDoc, jsonable
from mofgen.errors import InvalidInput
from mofgen.export.cif import cif_text, final_structure, safe_name
from mofgen.export.optimade import header, optimade_entry
from mofgen.export.readme import readme
from mofgen.export.record import ExportContext, check_licence, check_release
from mofgen.kinds import get_kind
from mofgen.querysafety import check_query

FORMATS = ("cif", "jsonl", "optimade", "records")
DEFAULT_LICENCE = "CC-BY-4.0"
BATCH = 200  # documents fetched per round trip (bounded memory on 100 000 structures)
CORE_FILES = ("structures.jsonl", "optimade.jsonl", "records.jsonl")


@dataclass
class ExportReport:
    """What an export wrote, for the CLI's human or ``--json`` output."""

    campaign: str
    out: str
    formats: list[str]
    count: int
    files: dict[str, str] = field(default_factory=dict)  # relative path → sha256 (not CIFs)

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "out": self.out, "formats": self.formats,
                "count": self.count, "files": self.files}


# ----------------------------------------------------------------------------- selection
def parse_formats(text: str | list[str] | tuple[str, ...]) -> list[str]:
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip().lower() for n in names if n.strip()]
    unknown = sorted(set(names) - set(FORMATS))
    if unknown or not names:
        raise InvalidInput(f"--format takes a comma list of {','.join(FORMATS)}, got {text!r}")
    return [f for f in FORMATS if f in names]


def parse_query(text: str | dict | None) -> dict[str, Any]:
    """``--query`` JSON (a MongoDB filter object) → dict; anything else is one clear line."""
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        return check_query(text, "query")
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--query is not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InvalidInput("--query is nested too deeply") from None
    if not isinstance(query, dict):
        raise InvalidInput(f"--query must be a JSON object (a MongoDB filter), got {text!r}")
    return check_query(query, "--query")


def selection_filter(
    campaign: str, min_state: str | None = None, query: dict[str, Any] | None = None,
    ladder: list[str] | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The MongoDB filter of an export: campaign, current state at or beyond ``min_state``.

    ``min_state`` follows the kind's ``ladder`` (MOF: generated → … → retrained), so
    ``adsorbed`` keeps adsorbed and retrained documents and drops rejected and failed ones.
    """
    ladder = tuple(ladder or get_kind(DEFAULT_KIND).ladder_states())
    clauses: list[dict[str, Any]] = [{"campaign": campaign}]
    if min_state:
        if min_state not in ladder:
            raise InvalidInput(
                f"--min-state must be one of {', '.join(ladder)}, got {min_state!r}"
            )
        clauses.append({"state": {"$in": list(ladder[ladder.index(min_state):])}})
    if query:
        clauses.append(query)
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=value.tzinfo or dt.timezone.utc)


def selection(db, query: dict[str, Any]) -> tuple[list[str], dt.datetime | None]:
    """The ids ``query`` selects, sorted (the order of every file), and the newest
    ``updated_at`` among them (the data's date: the default release)."""
    from pymongo.errors import OperationFailure

    try:
        found = list(db.structures.find(query, {"_id": 1, "updated_at": 1}))
    except (OperationFailure, NotImplementedError, TypeError) as exc:
        # a malformed operator, or one the embedded engine does not implement
        raise InvalidInput(f"--query cannot be run: {exc}".splitlines()[0]) from None
    times = [t for t in (_utc(d.get("updated_at")) for d in found) if t is not None]
    return sorted((d["_id"] for d in found), key=str), max(times, default=None)


def selected_ids(db, query: dict[str, Any]) -> list[str]:
    """The ids ``query`` selects, sorted (the order of every file)."""
    return selection(db, query)[0]


def iter_documents(db, ids: list[str]):
    """Documents by id in batches (``_id $in`` is an index lookup on both back ends)."""
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        docs = {d["_id"]: d for d in db.structures.find({"_id": {"$in": batch}})}
        for doc_id in batch:
            if doc_id in docs:
                yield docs[doc_id]


# ----------------------------------------------------------------------------- per document
def document_record(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON Lines record of one document: the StructureDoc without its transient lease."""
    model = StructureDoc.from_mongo({k: v for k, v in doc.items() if k != "lock"})
    return jsonable(model.as_dict())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json_line(handle, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")))
    handle.write("\n")


def _clear(out: Path) -> None:
    """Remove what an earlier export wrote: the core files, ``cif/`` and the extra files
    its ``metadata.json`` lists (plain names only, so nothing outside ``out``)."""
    stale = {"cif", *CORE_FILES}
    try:
        listed = json.loads((out / "metadata.json").read_text()).get("files") or {}
    except (OSError, ValueError, AttributeError):
        listed = {}
    stale |= {name for name in listed if isinstance(name, str) and name
              and "/" not in name and "\\" not in name and not name.startswith(".")}
    for name in stale:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


# ----------------------------------------------------------------------------- export
def export_campaign(
    db,
    campaign: str,
    out: str | Path,
    formats: str | list[str] = FORMATS,
    min_state: str | None = None,
    query: str | dict[str, Any] | None = None,
    licence: str = DEFAULT_LICENCE,
    release: str | None = None,
) -> ExportReport:
    """Write the open-database export of ``campaign`` into ``out`` (replacing earlier files).

    ``release`` labels the records (default: the UTC date of the newest exported data,
    ``YYYY.MM.DD``, so re-exporting unchanged data gives the same files). Raises
    :class:`~mofgen.errors.NotFound` for an unknown campaign and
    :class:`~mofgen.errors.InvalidInput` for a bad format list, state, query, release or
    licence.
    """
    from mofgen.campaigns import get_campaign

    fmts = parse_formats(formats)
    parsed_query = parse_query(query)
    licence = check_licence(licence)
    if release is not None:
        check_release(release)
    camp = get_campaign(db, campaign)
    kind = get_kind(camp.kind)
    record_model = kind.export_record_model()
    if record_model is None:  # this kind publishes no database records
        fmts = [f for f in fmts if f != "records"]
    filt = selection_filter(campaign, min_state, parsed_query, kind.ladder_states())
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a directory")
    ids, newest = selection(db, filt)  # a query the store cannot run fails before any file
    release = release or (newest.strftime("%Y.%m.%d") if newest else "unreleased")
    context = ExportContext(campaign=camp, release=release, licence=licence, db=db)
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    if "cif" in fmts:
        (out / "cif").mkdir()

    jsonl = (out / "structures.jsonl").open("w") if "jsonl" in fmts else None
    opt = (out / "optimade.jsonl").open("w") if "optimade" in fmts else None
    records = (out / "records.jsonl").open("w") if "records" in fmts else None
    states: dict[str, int] = {}
    try:
        if opt is not None:
            _write_json_line(opt, header())
        for doc in iter_documents(db, ids):
            states[doc["state"]] = states.get(doc["state"], 0) + 1
            if jsonl is not None:
                _write_json_line(jsonl, document_record(doc))
            if records is not None:
                _write_json_line(records, kind.export_record(
                    doc, context, f"cif/{safe_name(doc['_id'])}.cif"))
            if "cif" in fmts or opt is not None:
                structure, _ = final_structure(doc)
                if "cif" in fmts:
                    (out / "cif" / f"{safe_name(doc['_id'])}.cif").write_text(
                        cif_text(structure, str(doc["_id"])))
                if opt is not None:
                    _write_json_line(opt, optimade_entry(doc, structure,
                                                         kind.export_fields(doc)))
    finally:
        for handle in (jsonl, opt, records):
            if handle is not None:
                handle.close()

    extra = kind.export_files(camp)
    for name, text in extra.items():
        (out / name).write_text(text)
    report = ExportReport(campaign=campaign, out=str(out), formats=fmts, count=len(ids))
    for name in (*CORE_FILES, *extra):
        if (out / name).exists():
            report.files[name] = _sha256(out / name)
    metadata = {
        "name": f"mofgen campaign {campaign}",
        "campaign": campaign,
        "kind": camp.kind,
        "status": camp.status,
        "config": jsonable(camp.config.model_dump(mode="json")),
        "licence": licence,
        "release": release,
        "selection": {"filter": jsonable(filt), "min_state": min_state},
        "count": len(ids),
        "states": dict(sorted(states.items())),
        "data_last_modified": newest.isoformat() if newest else None,
        "formats": fmts,
        "files": {**report.files, **({"cif/": f"{len(ids)} files, <id>.cif"} if "cif" in fmts
                                     else {})},
        **kind.export_metadata(camp),
        "schema": "structures.jsonl lines are mofgen.documents.StructureDoc (JSON mode)",
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(readme(metadata, kind.export_readme(metadata),
                                          record_model if "records" in fmts else None))
    return report


__all__ = ["DEFAULT_LICENCE", "FORMATS", "ExportReport", "document_record", "export_campaign",
           "iter_documents", "parse_formats", "parse_query", "selected_ids", "selection",
           "selection_filter"]
