"""The README of an export: what the data is, its licence, its files and their checksums.

The frame is the same for every kind; what the structures are and how each file's fields
read come from the campaign's kind (``CampaignKind.export_readme``). When the export has
database records, every field of the record model is listed with its unit and meaning
(the table is generated from the model, so it cannot miss a field).
"""

from __future__ import annotations

from typing import Any

from mofgen.export.record import (
    CANONICAL_FORM,
    FRACTIONAL_DECIMALS,
    ID_HEX,
    ID_PREFIX,
    LATTICE_DECIMALS,
    glossary_markdown,
)
from mofgen.kinds.base import ReadmeSection


def records_section(model) -> str:
    """The ``records.jsonl`` part of the README: conventions, the content hash, the table."""
    return f"""## records.jsonl: one database record per structure

One JSON object per line, in the order of `structures.jsonl`. Every key is present in
every line; a value that was not measured (yet) is `null`.

**Quantities.** A number with a unit is an object `{{"value", "unit", "uncertainty",
"uncertainty_type"}}`: `unit` is the unit of `value` and `uncertainty` (`1` means
dimensionless), `uncertainty` is the spread of `value` (null when unknown) and
`uncertainty_type` says what it is (RASPA2 block-average error, standard error over
replicas …). The table gives each quantity's unit.

**Content hash and ID.** `content_hash.value` is the SHA-256 (hex) of the UTF-8 text
below, built from the structure *as generated* (the document's `structure`, which never
changes after generation, so the ID is the same in every release);
`id` is `{ID_PREFIX}` + its first {ID_HEX} hex digits. `published_structure_hash` is the
same hash of the published geometry (the CIF's). The text (form `{CANONICAL_FORM}`):

```
{CANONICAL_FORM}
lattice <a_x a_y a_z b_x b_y b_z c_x c_y c_z>
sites <number of sites>
<species> <f_a> <f_b> <f_c>
...
```

Cell vectors in Å with {LATTICE_DECIMALS} decimals; one line per site with pymatgen's
species string and the fractional coordinates wrapped into [0, 1) with
{FRACTIONAL_DECIMALS} decimals (a coordinate that rounds to 1 is written 0); site lines
sorted as text; every line ends with a newline. Site order, charges and every other
property are not hashed. Reproduce it with
`mofgen.export.record.content_hash(Structure.from_dict(doc["structure"]))`.

**Release and licence.** `release` labels this export (`mofgen export --release`; by
default the UTC date of the newest exported data, YYYY.MM.DD); `licence` is the licence
of the data (`--licence`).

### Fields

{glossary_markdown(model)}"""


def readme(meta: dict[str, Any], section: ReadmeSection, record_model=None) -> str:
    """The README text of an export described by ``meta`` (its ``metadata.json``);
    ``record_model`` documents ``records.jsonl`` when the export wrote it."""
    states = ", ".join(f"{k}: {v}" for k, v in meta["states"].items()) or "none"
    files = "\n".join(f"- `{name}` {digest}" for name, digest in meta["files"].items())
    records = "" if record_model is None else (
        "- `records.jsonl`: one database record per structure (charges with their method, "
        "pore\n  descriptors with the probe radius, adsorption conditions, stability with "
        "uncertainty,\n  validity flags, lineage, content-hash ID); fields below.\n")
    text = f"""# {meta['name']}

Open database of {section.about} States: {states}.

Licence: **{meta['licence']}**. Release: **{meta.get('release')}**. Data last modified:
{meta['data_last_modified']}.

## Files
{files}

{section.files.rstrip()}
{records.rstrip()}

## Campaign config and selection
See `metadata.json` (`config`, `selection`, `units`).
"""
    if record_model is not None:
        text += "\n" + records_section(record_model)
    return text


__all__ = ["readme", "records_section"]
