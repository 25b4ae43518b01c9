"""Export a campaign and read back every file it wrote (determinism tests)."""

from __future__ import annotations

from pathlib import Path

from mofgen.export import export_campaign
from mofgen.stores.connection import connect


def export_files(target: str, campaign: str, out: Path, **options) -> dict[str, bytes]:
    """``mofgen export`` of ``campaign`` into ``out``; relative path -> file bytes."""
    db = connect(target, create=False)
    try:
        export_campaign(db, campaign, out, **options)
    finally:
        db.close()
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file()}
