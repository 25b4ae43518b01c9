"""Open-database export of a campaign: CIF files, JSON Lines, OPTIMADE entries, metadata.

``export_campaign(db, "demo", "out/")`` writes a self-describing directory::

    out/README.md            what this is, how it was made, licence, file checksums
    out/metadata.json        the same as data: campaign config, counts, licence, files
    out/structures.jsonl     one StructureDoc per line (every property and provenance)
    out/cif/<id>.cif         final geometry (relaxed when simulated), `_atom_site_charge`
    out/optimade.jsonl       OPTIMADE JSON Lines: header line, then one structures entry
                             per line, each validated with optimade-python-tools' models
    out/references.json      crystal campaigns: the reference phases that define the hull

Crystal documents (``kind: crystal``) add their hull numbers to the OPTIMADE entries
(``_mofgen_e_above_hull``, ``_mofgen_formation_energy_per_atom`` in eV/atom,
``_mofgen_prototype`` …); their CIF is the relaxed structure.

Re-exporting the same data gives byte-identical files: documents are written in ``_id``
order with sorted keys, and no file records the time of the export (the newest
``updated_at`` of the exported documents stands in for it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mofgen.documents import StructureDoc, jsonable
from mofgen.errors import InvalidInput

FORMATS = ("cif", "jsonl", "optimade")
LADDER = ("generated", "validated", "simulated", "adsorbed", "retrained")
DEFAULT_LICENCE = "CC-BY-4.0"
BATCH = 200  # documents fetched per round trip (bounded memory on 100 000 structures)
OPTIMADE_API_VERSION = "1.1.0"
PROVIDER_PREFIX = "_mofgen_"


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
        return text
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--query is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(query, dict):
        raise InvalidInput(f"--query must be a JSON object (a MongoDB filter), got {text!r}")
    return query


def selection_filter(
    campaign: str, min_state: str | None = None, query: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The MongoDB filter of an export: campaign, current state at or beyond ``min_state``.

    ``min_state`` follows the ladder generated → … → retrained, so ``adsorbed`` keeps
    adsorbed and retrained documents and drops rejected and failed ones.
    """
    clauses: list[dict[str, Any]] = [{"campaign": campaign}]
    if min_state:
        if min_state not in LADDER:
            raise InvalidInput(
                f"--min-state must be one of {', '.join(LADDER)}, got {min_state!r}"
            )
        clauses.append({"state": {"$in": list(LADDER[LADDER.index(min_state):])}})
    if query:
        clauses.append(query)
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _selected_ids(db, query: dict[str, Any]) -> list[str]:
    try:
        ids = [d["_id"] for d in db.structures.find(query, {"_id": 1})]
    except Exception as exc:  # a malformed operator reaches the engine first
        if type(exc).__name__ in ("OperationFailure", "NotImplementedError", "TypeError"):
            raise InvalidInput(f"--query cannot be run: {exc}".splitlines()[0]) from None
        raise
    return sorted(ids, key=str)


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


def final_structure(doc: dict[str, Any]):
    """The geometry to publish: relaxed (with charges) when simulated, else as generated."""
    from pymatgen.core import Structure

    relaxed = (doc.get("simulate") or {}).get("structure")
    if isinstance(relaxed, dict) and "lattice" in relaxed:
        return Structure.from_dict(relaxed), "simulate.structure"
    return Structure.from_dict(doc["structure"]), "structure"


def cif_text(structure, name: str) -> str:
    """CIF (P1, one row per site) with ``_atom_site_charge`` when sites carry a charge."""
    from pymatgen.io.cif import CifWriter

    writer = CifWriter(structure)
    block = next(iter(writer.cif_file.data.values()))
    charges = structure.site_properties.get("charge")
    if charges is not None and all(c is not None for c in charges):
        block.data["_atom_site_charge"] = [f"{float(c):.6f}" for c in charges]
        for loop in block.loops:
            if "_atom_site_label" in loop:
                loop.append("_atom_site_charge")
    block.header = name
    text = str(writer.cif_file)
    return text if text.endswith("\n") else text + "\n"


def optimade_entry(doc: dict[str, Any], structure) -> dict[str, Any]:
    """One OPTIMADE ``structures`` resource, validated with optimade-python-tools."""
    from optimade.adapters.structures.pymatgen import from_pymatgen
    from optimade.models import StructureResource

    attributes = from_pymatgen(structure).model_dump(exclude_unset=False)
    updated = doc.get("updated_at") or doc.get("created_at")
    if isinstance(updated, dt.datetime) and updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.timezone.utc)
    validate = doc.get("validate") or {}
    adsorb = doc.get("adsorb") or {}
    attributes.update({
        "immutable_id": str(doc["_id"]),
        "last_modified": updated,
        PROVIDER_PREFIX + "campaign": doc.get("campaign"),
        PROVIDER_PREFIX + "kind": doc.get("kind"),
        PROVIDER_PREFIX + "state": doc.get("state"),
    })
    if doc.get("kind") == "crystal":
        attributes.update(crystal_fields(doc))
    else:
        attributes.update({
            PROVIDER_PREFIX + "strain": validate.get("strain"),
            PROVIDER_PREFIX + "co2_uptake_mol_per_kg": adsorb.get("co2_uptake"),
            PROVIDER_PREFIX + "linker_smiles": [lk.get("smiles")
                                                for lk in doc.get("linkers", [])],
        })
    resource = StructureResource(id=str(doc["_id"]), type="structures", attributes=attributes)
    return jsonable(resource.model_dump(mode="json", exclude_unset=True, exclude_none=True))


def crystal_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """A crystal's provider fields (energies in eV/atom; ``None`` values are dropped).

    ``formation_energy_per_atom``, ``energy_per_atom`` and ``e_above_hull`` are those of
    the relaxed structure (``simulate``); the screen's single point on the unrelaxed
    candidate is ``screen_formation_energy_per_atom``.
    """
    validate, simulate = doc.get("validate") or {}, doc.get("simulate") or {}
    origin, ids = doc.get("origin") or {}, doc.get("identifiers") or {}
    return {PROVIDER_PREFIX + k: v for k, v in {
        "e_above_hull": simulate.get("e_above_hull"),
        "near_hull": simulate.get("near_hull"),
        "formation_energy_per_atom": simulate.get("formation_energy_per_atom"),
        "energy_per_atom": simulate.get("energy_per_atom"),
        "screen_formation_energy_per_atom": validate.get("formation_energy_per_atom"),
        "energy_method": simulate.get("method") or validate.get("method"),
        "prototype": origin.get("prototype"),
        "crystal_key": ids.get("crystal_key"),
    }.items() if v is not None}


CRYSTAL_UNITS = {
    "e_above_hull": "eV/atom (negative: below the references' hull)",
    "formation_energy_per_atom": "eV/atom", "energy_per_atom": "eV/atom",
    "hull_threshold": "eV/atom", "lengths": "Å",
}


# ----------------------------------------------------------------------------- export
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json_line(handle, record: dict[str, Any]) -> None:
    handle.write(json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")))
    handle.write("\n")


def export_campaign(
    db,
    campaign: str,
    out: str | Path,
    formats: str | list[str] = FORMATS,
    min_state: str | None = None,
    query: str | dict[str, Any] | None = None,
    licence: str = DEFAULT_LICENCE,
) -> ExportReport:
    """Write the open-database export of ``campaign`` into ``out`` (replacing earlier files).

    Raises :class:`~mofgen.errors.NotFound` for an unknown campaign and
    :class:`~mofgen.errors.InvalidInput` for a bad format list, state or query.
    """
    from mofgen.campaigns import get_campaign

    fmts = parse_formats(formats)
    filt = selection_filter(campaign, min_state, parse_query(query))
    camp = get_campaign(db, campaign)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a directory")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("cif", "structures.jsonl", "optimade.jsonl", "references.json"):
        target = out / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    if "cif" in fmts:
        (out / "cif").mkdir()

    ids = _selected_ids(db, filt)
    jsonl = (out / "structures.jsonl").open("w") if "jsonl" in fmts else None
    opt = (out / "optimade.jsonl").open("w") if "optimade" in fmts else None
    states: dict[str, int] = {}
    newest: dt.datetime | None = None
    try:
        if opt is not None:
            _write_json_line(opt, {"x-optimade": {"meta": {"api_version": OPTIMADE_API_VERSION}}})
        for doc in iter_documents(db, ids):
            states[doc["state"]] = states.get(doc["state"], 0) + 1
            updated = doc.get("updated_at")
            if isinstance(updated, dt.datetime):
                updated = updated.replace(tzinfo=updated.tzinfo or dt.timezone.utc)
                newest = updated if newest is None or updated > newest else newest
            if jsonl is not None:
                _write_json_line(jsonl, document_record(doc))
            if "cif" in fmts or opt is not None:
                structure, _ = final_structure(doc)
                if "cif" in fmts:
                    (out / "cif" / f"{_safe_name(doc['_id'])}.cif").write_text(
                        cif_text(structure, str(doc["_id"])))
                if opt is not None:
                    _write_json_line(opt, optimade_entry(doc, structure))
    finally:
        for handle in (jsonl, opt):
            if handle is not None:
                handle.close()

    crystal = camp.kind == "crystal"
    if crystal and camp.references:
        (out / "references.json").write_text(
            json.dumps(jsonable(camp.references), indent=1, sort_keys=True) + "\n")
    report = ExportReport(campaign=campaign, out=str(out), formats=fmts, count=len(ids))
    for name in ("structures.jsonl", "optimade.jsonl", "references.json"):
        if (out / name).exists():
            report.files[name] = _sha256(out / name)
    metadata = {
        "name": f"mofgen campaign {campaign}",
        "campaign": campaign,
        "kind": camp.kind,
        "status": camp.status,
        "config": jsonable(camp.config.model_dump(mode="json")),
        "licence": licence,
        "selection": {"filter": jsonable(filt), "min_state": min_state},
        "count": len(ids),
        "states": dict(sorted(states.items())),
        "data_last_modified": newest.isoformat() if newest else None,
        "formats": fmts,
        "files": {**report.files, **({"cif/": f"{len(ids)} files, <id>.cif"} if "cif" in fmts
                                     else {})},
        "units": CRYSTAL_UNITS if crystal else {
            "co2_uptake": "mol/kg", "heat_of_adsorption_kJ_per_mol": "kJ/mol",
            "strain": "max |eigenvalue| of the Lagrangian strain tensor (fraction)",
            "charge": "elementary charge", "lengths": "Å"},
        "schema": "structures.jsonl lines are mofgen.documents.StructureDoc (JSON mode)",
    }
    if crystal:
        metadata["system"] = camp.config.system
        metadata["references"] = _references_meta(camp.references)
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(_readme(metadata))
    return report


def _references_meta(references: dict[str, Any] | None) -> dict[str, Any] | None:
    if not references:
        return None
    entries = references.get("entries") or []
    return {"method": references.get("method"), "file": "references.json",
            "phases": [(e.get("data") or {}).get("name") for e in entries]}


def _safe_name(doc_id: Any) -> str:
    text = str(doc_id)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _readme(meta: dict[str, Any]) -> str:
    if meta["kind"] == "crystal":
        return _crystal_readme(meta)
    states = ", ".join(f"{k}: {v}" for k, v in meta["states"].items()) or "none"
    files = "\n".join(f"- `{name}` {digest}" for name, digest in meta["files"].items())
    return f"""# {meta['name']}

Open database of {meta['count']} {meta['kind']} structures exported by mofgen
(database-centric generative MOF discovery). States: {states}.

Licence: **{meta['licence']}**. Data last modified: {meta['data_last_modified']}.

## Files
{files}

- `structures.jsonl`: one JSON document per line, the full mofgen record (validates as
  `mofgen.documents.StructureDoc`): generated and relaxed structures (pymatgen dicts),
  linker SMILES with the generator model version, every stage's numbers (`validate.strain`,
  `simulate`, `adsorb.co2_uptake` in mol/kg …) and the `history` of transitions with
  worker, duration and software versions.
- `cif/<id>.cif`: final geometry (relaxed where simulated) in P1 with `_atom_site_charge`
  where partial charges were computed.
- `optimade.jsonl`: OPTIMADE {OPTIMADE_API_VERSION} JSON Lines (header line, then one
  `structures` entry per line); mofgen fields carry the `{PROVIDER_PREFIX}` prefix.

## Campaign config and selection
See `metadata.json` (`config`, `selection`, `units`).
"""


def _crystal_readme(meta: dict[str, Any]) -> str:
    states = ", ".join(f"{k}: {v}" for k, v in meta["states"].items()) or "none"
    files = "\n".join(f"- `{name}` {digest}" for name, digest in meta["files"].items())
    refs = meta.get("references") or {}
    phases = ", ".join(str(p) for p in refs.get("phases", [])) or "none stored"
    return f"""# {meta['name']}

Open database of {meta['count']} crystal structures of the {meta.get('system')} system
exported by mofgen (substitution candidates screened with CHGNet, relaxed, and placed on
the convex hull of known phases). States: {states}.

Licence: **{meta['licence']}**. Data last modified: {meta['data_last_modified']}.

## Files
{files}

- `structures.jsonl`: one JSON document per line, the full mofgen record (validates as
  `mofgen.documents.StructureDoc`): generated and relaxed structures (pymatgen dicts), the
  origin (prototype, substitution, probability), the screen (`validate.energy_per_atom`,
  `validate.formation_energy_per_atom`), the relaxation and hull (`simulate.energy_per_atom`,
  `simulate.formation_energy_per_atom`, `simulate.e_above_hull`, `simulate.near_hull`), all
  in eV/atom, and the `history` of transitions with worker, duration and software versions.
- `cif/<id>.cif`: final geometry (relaxed where simulated) in P1.
- `optimade.jsonl`: OPTIMADE {OPTIMADE_API_VERSION} JSON Lines (header line, then one
  `structures` entry per line); mofgen fields carry the `{PROVIDER_PREFIX}` prefix, e.g.
  `{PROVIDER_PREFIX}e_above_hull`, `{PROVIDER_PREFIX}formation_energy_per_atom` (eV/atom) and
  `{PROVIDER_PREFIX}prototype`.
- `references.json`: the reference phases that define the hull ({refs.get('method')}:
  {phases}), as `mofgen.crystal.energy.References.as_dict()` (pymatgen
  ComputedStructureEntry dicts); energies above hull are measured against these.

## Campaign config and selection
See `metadata.json` (`config`, `selection`, `units`).
"""


__all__ = [
    "CRYSTAL_UNITS", "FORMATS", "ExportReport", "cif_text", "crystal_fields", "document_record",
    "export_campaign", "optimade_entry", "parse_formats", "parse_query", "selection_filter",
]
