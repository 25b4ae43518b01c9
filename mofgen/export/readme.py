"""The README of an export: what the data is, its licence, its files and their checksums.

The frame is the same for every kind; what the structures are and how each file's fields
read come from the campaign's kind (``CampaignKind.export_readme``).
"""

from __future__ import annotations

from typing import Any

from mofgen.kinds.base import ReadmeSection


def readme(meta: dict[str, Any], section: ReadmeSection) -> str:
    """The README text of an export described by ``meta`` (its ``metadata.json``)."""
    states = ", ".join(f"{k}: {v}" for k, v in meta["states"].items()) or "none"
    files = "\n".join(f"- `{name}` {digest}" for name, digest in meta["files"].items())
    return f"""# {meta['name']}

Open database of {section.about} States: {states}.

Licence: **{meta['licence']}**. Data last modified: {meta['data_last_modified']}.

## Files
{files}

{section.files.rstrip()}

## Campaign config and selection
See `metadata.json` (`config`, `selection`, `units`).
"""


__all__ = ["readme"]
