"""OPTIMADE ``structures`` entries, validated with optimade-python-tools' models.

Every entry carries the generic provider fields (campaign, kind, state); the campaign's
kind adds its own (``CampaignKind.export_fields``), all under :data:`PROVIDER_PREFIX`.
"""

from __future__ import annotations

from typing import Any

from mofgen.documents import as_utc, jsonable

OPTIMADE_API_VERSION = "1.1.0"
PROVIDER_PREFIX = "_mofgen_"


def header() -> dict[str, Any]:
    """The first line of an OPTIMADE JSON Lines file."""
    return {"x-optimade": {"meta": {"api_version": OPTIMADE_API_VERSION}}}


def optimade_entry(doc: dict[str, Any], structure, kind_fields: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """One OPTIMADE ``structures`` resource of ``doc`` with geometry ``structure``;
    ``kind_fields`` (unprefixed) are the kind's provider fields, ``None`` values dropped."""
    from optimade.adapters.structures.pymatgen import from_pymatgen
    from optimade.models import StructureResource

    attributes = from_pymatgen(structure).model_dump(exclude_unset=False)
    attributes.update({
        "immutable_id": str(doc["_id"]),
        "last_modified": as_utc(doc.get("updated_at") or doc.get("created_at")),
        PROVIDER_PREFIX + "campaign": doc.get("campaign"),
        PROVIDER_PREFIX + "kind": doc.get("kind"),
        PROVIDER_PREFIX + "state": doc.get("state"),
    })
    attributes.update({PROVIDER_PREFIX + k: v for k, v in (kind_fields or {}).items()})
    resource = StructureResource(id=str(doc["_id"]), type="structures", attributes=attributes)
    return jsonable(resource.model_dump(mode="json", exclude_unset=True, exclude_none=True))


__all__ = ["OPTIMADE_API_VERSION", "PROVIDER_PREFIX", "header", "optimade_entry"]
