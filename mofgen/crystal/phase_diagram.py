"""The phase diagram of a crystal campaign: its reference phases plus its relaxed candidates.

The hull is that of the references plus the candidates included (so a candidate below the
references' hull becomes a new vertex); each candidate's ``e_above_hull`` is the stored
one (:data:`mofgen.records.E_ABOVE_HULL`, against the references). Energies in eV/atom.
Only the ``max_candidates`` lowest in energy above hull are read (one indexed, sorted,
limited query), so the diagram stays bounded on large campaigns. The figure is drawn by
the dashboard (:mod:`mofgen.dashboard.figures`); this module knows no plotting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mofgen.errors import InvalidInput
from mofgen.records import (
    CRYSTAL_KEY,
    E_ABOVE_HULL,
    FORMATION_ENERGY,
    NEAR_HULL,
    RELAXED_ENERGY,
    get_path,
)

if TYPE_CHECKING:
    from pymatgen.analysis.phase_diagram import PhaseDiagram

MAX_CANDIDATES = 500  # candidates in the diagram (lowest E_hull first)
LOWEST = -1e300  # "$gte LOWEST" selects numbers only (an index range, unlike $exists)


@dataclass
class PhaseDiagramData:
    """References and candidates of one campaign's hull; ``as_dict()`` is the JSON part.

    ``diagram`` is the pymatgen :class:`PhaseDiagram` (None without usable references);
    ``reference_entries`` and ``candidate_entries`` are its entries in the order of the
    ``references`` and ``candidates`` rows. ``message`` says why something is missing.
    """

    campaign: str
    system: str
    hull_threshold: float  # eV/atom
    elements: list[str]
    method: str | None = None
    references: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    candidates_total: int = 0
    skipped: list[Any] = field(default_factory=list)  # ids without a usable formula/energy
    message: str | None = None
    diagram: PhaseDiagram | None = None
    reference_entries: list[Any] = field(default_factory=list)
    candidate_entries: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "system": self.system,
                "hull_threshold": self.hull_threshold, "method": self.method,
                "elements": self.elements, "references": self.references,
                "candidates": self.candidates, "candidates_total": self.candidates_total,
                "skipped": self.skipped, "message": self.message}


def phase_diagram_data(db, campaign: str, references: dict[str, Any] | None, system: str,
                       hull_threshold: float, max_candidates: int = MAX_CANDIDATES
                       ) -> PhaseDiagramData:
    """The hull of ``campaign`` from its stored ``references`` (``References.as_dict()``)
    and its relaxed candidates; never raises for missing or unusable references."""
    query = {"campaign": campaign, E_ABOVE_HULL: {"$gte": LOWEST}}
    data = PhaseDiagramData(campaign=campaign, system=system, hull_threshold=hull_threshold,
                            elements=system.split("-") if system else [],
                            candidates_total=db.structures.count_documents(query))
    if not references:
        data.message = "no reference phases yet: the hull is built when the campaign starts"
        return data
    try:
        from mofgen.crystal.energy import References

        refs = References.from_dict(references)
        ref_pd = refs.phase_diagram
    except (KeyError, TypeError, ValueError, AttributeError, InvalidInput) as exc:
        data.message = f"the stored reference phases cannot be used: {exc}".splitlines()[0]
        return data
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    elements = [el.symbol for el in ref_pd.elements]
    if system and sorted(system.split("-")) == sorted(elements):
        elements = system.split("-")  # the campaign's order, for the axes
    data.method, data.elements = refs.method, elements
    data.reference_entries = list(refs.entries)
    for entry in refs.entries:
        data.references.append({
            "name": entry.data.get("name") or entry.reduced_formula,
            "formula": entry.reduced_formula, "energy_per_atom": entry.energy_per_atom,
            "formation_energy_per_atom": ref_pd.get_form_energy_per_atom(entry),
            "e_above_hull": ref_pd.get_e_above_hull(entry, allow_negative=True),
            "stable": entry in ref_pd.stable_entries})
    fields = dict.fromkeys(["state", "identifiers.formula", CRYSTAL_KEY, "origin.prototype",
                            RELAXED_ENERGY, FORMATION_ENERGY, E_ABOVE_HULL, NEAR_HULL], 1)
    for doc in db.structures.find(query, fields).sort(E_ABOVE_HULL, 1).limit(max_candidates):
        row, entry = _candidate(doc, set(elements), hull_threshold)
        if row is None:
            data.skipped.append(doc["_id"])  # no usable formula or energy, or off-system
            continue
        data.candidates.append(row)
        data.candidate_entries.append(entry)
    if not data.candidates:
        data.message = "no simulated crystals yet: the plot shows the reference phases"
    data.diagram = (PhaseDiagram(data.reference_entries + data.candidate_entries)
                    if data.candidate_entries else ref_pd)
    return data


def _candidate(doc: dict[str, Any], elements: set[str], threshold: float):
    """A candidate's row and PDEntry, or ``(None, None)`` when it cannot be placed."""
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    formula = get_path(doc, "identifiers.formula") or (
        get_path(doc, CRYSTAL_KEY) or "").split(":")[0]
    energy = get_path(doc, RELAXED_ENERGY)
    try:
        comp = Composition(formula) if formula else None
    except (ValueError, KeyError):
        comp = None
    if not comp or not isinstance(energy, (int, float)) or not math.isfinite(energy) \
            or {el.symbol for el in comp.elements} - elements:
        return None, None
    e_hull = get_path(doc, E_ABOVE_HULL)
    near = get_path(doc, NEAR_HULL)
    row = {"id": doc["_id"], "state": doc.get("state"), "formula": comp.reduced_formula,
           "prototype": get_path(doc, "origin.prototype"), "energy_per_atom": energy,
           "formation_energy_per_atom": get_path(doc, FORMATION_ENERGY),
           "e_above_hull": e_hull, "near_hull": bool(e_hull <= threshold if near is None
                                                     else near)}
    return row, PDEntry(comp, energy * comp.num_atoms, name=str(doc["_id"]))


def references_summary(references: Any) -> dict[str, Any] | None:
    """Method, count and phase names of a campaign's stored references (not the structures)."""
    if not isinstance(references, dict):
        return None
    entries = references.get("entries") if isinstance(references.get("entries"), list) else []
    names = [((e.get("data") or {}).get("name") if isinstance(e, dict) else None) or "?"
             for e in entries]
    return {"method": references.get("method"), "count": len(entries), "phases": names}


__all__ = ["MAX_CANDIDATES", "PhaseDiagramData", "phase_diagram_data", "references_summary"]
