"""Database records of an export (``records.jsonl``): the kind-independent parts.

A kind that publishes records (``CampaignKind.export_record``) builds one typed record per
structure from these pieces:

* :func:`content_hash` — the stable ID: SHA-256 of :func:`canonical_structure_text`, a
  text form of a structure that ignores site order, stored site properties (charges) and
  coordinate noise below 10⁻⁴ (fractional) / 10⁻⁴ Å (cell);
* :class:`Quantity` — every number that has a unit carries it (``{"value", "unit"}``);
* :class:`ExportContext` — what every record of one export shares (release, licence,
  campaign, model versions);
* :func:`glossary` — the README's field table, generated from the record model, so a field
  without a description or a quantity without a unit cannot be exported.
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mofgen.errors import InvalidInput

CANONICAL_FORM = "mofgen-structure-v1"
FRACTIONAL_DECIMALS = 4  # 1e-4 of a cell edge: 0.001-0.003 Å for MOF cells
LATTICE_DECIMALS = 4  # Å
ID_PREFIX = "mofgen-"
ID_HEX = 24  # hex digits of the digest in the short ID (96 bits)
RELEASE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
DIMENSIONLESS = "1"


# ----------------------------------------------------------------------------- content hash
def _number(value: float, decimals: int) -> str:
    return f"{round(float(value), decimals) + 0.0:.{decimals}f}"  # + 0.0: no "-0.0000"


def canonical_structure_text(structure) -> str:
    """The text that :func:`content_hash` hashes, for a pymatgen ``Structure``::

        mofgen-structure-v1
        lattice <a_x a_y a_z b_x b_y b_z c_x c_y c_z>   (Å, 4 decimals)
        sites <n>
        <species> <f_a> <f_b> <f_c>                      (one line per site)

    Fractional coordinates are wrapped into [0, 1) and written with 4 decimals (a value
    that rounds to 1.0000 is written 0.0000); site lines are sorted, so the order of the
    sites does not matter; ``species`` is pymatgen's ``species_string`` (``Zn``, or
    ``Zn:0.500, Cu:0.500`` for a disordered site). Site properties (charges, labels) and
    everything else of the document are not part of it.
    """
    lattice = " ".join(_number(x, LATTICE_DECIMALS) for row in structure.lattice.matrix
                       for x in row)
    rows = []
    for site in structure:
        coords = []
        for x in site.frac_coords:
            wrapped = round(float(x) % 1.0, FRACTIONAL_DECIMALS)
            coords.append(_number(0.0 if wrapped >= 1.0 else wrapped, FRACTIONAL_DECIMALS))
        rows.append(f"{site.species_string} {' '.join(coords)}")
    return "\n".join([CANONICAL_FORM, f"lattice {lattice}", f"sites {len(rows)}",
                      *sorted(rows)]) + "\n"


def content_hash(structure) -> str:
    """SHA-256 (hex) of :func:`canonical_structure_text` encoded as UTF-8."""
    return hashlib.sha256(canonical_structure_text(structure).encode()).hexdigest()


def content_id(digest: str) -> str:
    """The record ID of a content hash: ``mofgen-`` + its first 24 hex digits."""
    return ID_PREFIX + digest[:ID_HEX]


def check_release(release: str) -> str:
    """A release label is one token (``1.0.0``, ``2026.11.30``, ``v2-rc1``), 1-64 chars."""
    if not isinstance(release, str) or not RELEASE_PATTERN.match(release):
        raise InvalidInput(f"--release must be 1-64 letters, digits or ._+- (starting with "
                           f"a letter or digit), got {release!r}")
    return release


def check_licence(licence: str) -> str:
    if not isinstance(licence, str) or not licence.strip() or "\n" in licence \
            or len(licence) > 200:
        raise InvalidInput(f"--licence must be one line (an SPDX id such as CC-BY-4.0), "
                           f"got {licence!r}")
    return licence.strip()


# ----------------------------------------------------------------------------- model pieces
class RecordModel(BaseModel):
    """Base of every record block: unknown keys refused, NaN refused, aliases on output."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class Quantity(RecordModel):
    """A number with its unit; ``uncertainty`` (same unit) says how well it is known and
    ``uncertainty_type`` what kind of spread it is."""

    value: float = Field(description="the number, in `unit`")
    unit: str = Field(description="unit of `value` (and `uncertainty`); '1': dimensionless")
    uncertainty: float | None = Field(None, description="spread of `value`, same unit")
    uncertainty_type: str | None = Field(None, description="what `uncertainty` is")


def quantity(value: Any, unit: str, uncertainty: Any = None,
             uncertainty_type: str | None = None) -> Quantity | None:
    """A :class:`Quantity`, or ``None`` when there is no value."""
    if value is None:
        return None
    spread = None if uncertainty is None else float(uncertainty)
    return Quantity(value=float(value), unit=unit, uncertainty=spread,
                    uncertainty_type=uncertainty_type if spread is not None else None)


def unit_field(unit: str, description: str, default: Any = None) -> Any:
    """A record field holding a :class:`Quantity` in ``unit`` (the README shows the unit)."""
    return Field(default, description=description, json_schema_extra={"unit": unit})


@dataclass
class ExportContext:
    """What the records of one export share. ``models`` maps a model version to its
    ``models`` document (read once per export through :meth:`model`)."""

    campaign: Any  # CampaignDoc
    release: str
    licence: str
    db: Any = None
    models: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def model(self, version: str) -> dict[str, Any] | None:
        if version not in self.models:
            self.models[version] = (self.db.models.find_one({"_id": version})
                                    if self.db is not None else None)
        return self.models[version]

    def model_lineage(self, version: str | None) -> list[str]:
        """``version`` and its ancestors, newest first (parents from ``models``)."""
        chain: list[str] = []
        while version and version not in chain and len(chain) < 1000:
            chain.append(version)
            version = (self.model(version) or {}).get("parent")
        return chain


# ----------------------------------------------------------------------------- glossary
@dataclass(frozen=True)
class FieldDoc:
    """One documented path of a record: unit ('' when it has none) and meaning."""

    path: str
    unit: str
    description: str
    mapping: bool = False  # a free-form mapping: its keys are documented in the text


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``(inner type, is_list)`` of ``X | None``, ``list[X] | None``."""
    is_list = False
    for _ in range(3):
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                break
        elif origin is list:
            is_list = True
            annotation = typing.get_args(annotation)[0]
        else:
            break
    return annotation, is_list


def glossary(model: type[BaseModel], prefix: str = "") -> list[FieldDoc]:
    """Every path of ``model`` (aliases as written), depth first, in declaration order.

    Raises ``ValueError`` for a field without a description or a :class:`Quantity`
    without a declared unit: an undocumented field cannot reach an export.
    """
    docs: list[FieldDoc] = []
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        if not info.description:
            raise ValueError(f"record field {path} of {model.__name__} has no description")
        inner, is_list = _unwrap(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        shown = path + ("[]" if is_list else "")
        if isinstance(inner, type) and issubclass(inner, Quantity):
            if "unit" not in extra:
                raise ValueError(f"quantity {path} of {model.__name__} declares no unit")
            docs.append(FieldDoc(shown, str(extra["unit"]), info.description))
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            docs.append(FieldDoc(shown, "", info.description))
            docs += glossary(inner, shown + ".")
        else:
            mapping = typing.get_origin(inner) is dict or inner is dict
            docs.append(FieldDoc(shown, str(extra.get("unit", "")), info.description,
                                 mapping))
    return docs


def glossary_markdown(model: type[BaseModel]) -> str:
    """The field table of the README (one row per path of :func:`glossary`)."""
    rows = ["| field | unit | meaning |", "|---|---|---|"]
    for doc in glossary(model):
        meaning = doc.description.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{doc.path}` | {doc.unit or '–'} | {meaning} |")
    return "\n".join(rows) + "\n"


__all__ = [
    "CANONICAL_FORM", "DIMENSIONLESS", "ExportContext", "FieldDoc", "Quantity",
    "RecordModel", "canonical_structure_text", "check_licence", "check_release",
    "content_hash", "content_id", "glossary", "glossary_markdown", "quantity", "unit_field",
]
