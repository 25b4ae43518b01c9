"""CIF of a structure document: the geometry to publish, with partial charges when known."""

from __future__ import annotations

from typing import Any

from mofgen.records import RELAXED_STRUCTURE as RELAXED
from mofgen.records import get_path


def final_structure(doc: dict[str, Any]):
    """The geometry to publish and where it came from: relaxed (with charges) when
    simulated, else as generated."""
    from pymatgen.core import Structure

    relaxed = get_path(doc, RELAXED)
    if isinstance(relaxed, dict) and "lattice" in relaxed:
        return Structure.from_dict(relaxed), RELAXED
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


def safe_name(doc_id: Any) -> str:
    """A file name for a document id: anything but letters, digits and ``-_.`` becomes ``_``."""
    text = str(doc_id)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


__all__ = ["cif_text", "final_structure", "safe_name"]
