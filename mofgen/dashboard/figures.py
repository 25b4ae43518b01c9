"""Plotly figures built on the server: figures whose data a campaign kind computes.

Most plots are drawn in the browser from series (``dashboard.js``); a kind's
:class:`~mofgen.kinds.base.Figure` chart names a builder here (``draw``), which turns the
kind's data into JSON with a plotly figure (``{"data", "layout"}``) and a caption.
Builders: ``phase_diagram`` (:mod:`mofgen.crystal.phase_diagram` data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymatgen.analysis.phase_diagram import PhaseDiagram

    from mofgen.crystal.phase_diagram import PhaseDiagramData

MAX_PD_LABELS = 25  # near-hull candidates labelled with their formula


def draw(name: str, data: Any) -> dict[str, Any]:
    """The JSON of figure ``name`` drawn from a kind's ``data``."""
    try:
        builder = FIGURES[name]
    except KeyError:
        raise ValueError(f"no figure builder named {name!r} (known: "
                         f"{', '.join(sorted(FIGURES))})") from None
    return builder(data)


# ----------------------------------------------------------------------------- phase diagram
def phase_diagram(data: PhaseDiagramData) -> dict[str, Any]:
    """References, candidates, the figure (``None`` when there is nothing to draw or more
    than three elements) and a caption; ``message`` says what is missing."""
    out = {**data.as_dict(), "figure": None}
    if data.diagram is not None:
        out["figure"] = phase_diagram_figure(data)
        if out["figure"] is None:
            out["message"] = (f"the plot is drawn for 2 or 3 elements ({len(data.elements)} "
                              "here); see the table")
    out["caption"] = phase_diagram_caption(data)
    return out


def phase_diagram_caption(data: PhaseDiagramData) -> str:
    if data.references:
        names = ", ".join(r["name"] for r in data.references)
        refs = f"{len(data.references)} reference phases ({data.method or '–'}): {names}"
    else:
        refs = "no reference phases yet"
    drawn = len(data.candidates)
    text = (f"{refs} · near the hull: E_hull ≤ {data.hull_threshold:g} eV/atom · "
            f"{data.candidates_total} simulated crystals")
    return text + (f", the {drawn} lowest drawn" if data.candidates_total > drawn else "")


def _hull_edges(pd: PhaseDiagram) -> list[tuple[Any, Any]]:
    edges = {(i, j) for facet in pd.facets for i in facet for j in facet if i < j}
    return [(pd.qhull_entries[i], pd.qhull_entries[j]) for i, j in sorted(edges)]


def _fraction_text(comp, elements: list[str]) -> str:
    return "<br>".join(f"{el}: {comp.get_atomic_fraction(el):.3g}" for el in elements)


def phase_diagram_figure(data: PhaseDiagramData) -> dict[str, Any] | None:
    """A plotly figure of the hull: formation energy against composition for a binary
    system, a ternary diagram for three elements (candidates coloured by E_hull, near-hull
    ones labelled), ``None`` beyond three elements. Energies in eV/atom."""
    pd, elements = data.diagram, data.elements
    dim = len(elements)
    if pd is None or dim not in (2, 3):
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

    refs = data.references
    for stable in (True, False):
        group = [i for i, r in enumerate(refs) if r["stable"] == stable]
        if not group:
            continue
        entries = [data.reference_entries[i] for i in group]
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

    cands = data.candidates
    if cands:
        near = sorted((c["e_above_hull"], c["id"]) for c in cands if c["near_hull"])
        labelled = {i for _, i in near[:MAX_PD_LABELS]}
        ehull = [c["e_above_hull"] for c in cands]
        traces.append({
            "type": kind, "mode": "markers+text", "name": "candidates",
            **place(data.candidate_entries),
            "text": [c["formula"] if c["id"] in labelled else "" for c in cands],
            "textposition": "bottom center", "customdata": [c["id"] for c in cands],
            "hoverinfo": "text",
            "hovertext": [f"{c['id']}<br>{c['formula']} ({c['prototype'] or '?'}), {c['state']}"
                          f"<br>E_hull {c['e_above_hull']:.3f} eV/atom" for c in cands],
            "marker": {"size": 8, "color": ehull, "colorscale": "Viridis",
                       "cmin": min(0.0, *ehull), "cmax": max(2 * data.hull_threshold, 1e-3),
                       "colorbar": {"title": {"text": "E_hull<br>eV/atom"}},
                       "line": {"width": 0.5, "color": "#333"}},
        })

    title = f"{'-'.join(elements)} ({data.method}): hull of references"
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


FIGURES: dict[str, Callable[[Any], dict[str, Any]]] = {"phase_diagram": phase_diagram}

__all__ = ["FIGURES", "draw", "phase_diagram", "phase_diagram_figure"]
