"""CHGNet energies, formation energies and energies above the convex hull.

One method for every number that is compared: candidates and reference phases are all
evaluated with the same CHGNet model (relaxed the same way when relaxed), so hull
energies never mix methods. CHGNet was trained on Materials Project energies with the
MP2020 corrections already applied, so its energies of oxides and of the elements sit on
one consistent scale and need no further correction.

Batched inference (:func:`predict_energies`, ``screen_batch``) is the throughput path.
Each structure's CHGNet graph is built once; the graphs are sorted by size (angles, the
dominant cost) so a batch holds similar structures and a cap on angles per batch bounds its
memory whatever the cell sizes; each batch is one forward pass in ``torch.inference_mode``
(an energy needs no gradient, but ``CHGNet.predict_structure`` records one because the
graph's coordinates require it). ``predict_energies_one_by_one`` (one
``predict_structure`` call per structure) is the baseline that
``benchmarks/bench_crystal_screen.py`` measures the gain against in the same run. The
energies agree with it to float32 rounding (about 1e-6 eV/atom).

Callers choose the torch thread count (``torch.set_num_threads``); nothing here changes it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Structure
from pymatgen.entries.computed_entries import ComputedStructureEntry

from mofgen.engines.chgnet_relax import ChgnetRelaxation
from mofgen.errors import InvalidInput, ToolFailure

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from chgnet.model import CHGNet

    from mofgen.crystal.prototypes import ReferencePhase

DEFAULT_MODEL = "0.3.0"  # the weights shipped in the chgnet wheel
BATCH_SIZE = 16  # structures per forward pass (benchmarks/bench_crystal_screen.py)
MAX_ANGLES_PER_BATCH = 200_000  # bounds a batch's memory: large cells go in smaller batches
# eV/atom. Formation energies of real compounds stay above about -4.5 eV/atom (the most
# negative are fluorides and oxides); a relaxation that ends far below that fell into a hole
# of the potential (a collapsed cell, e.g. SiO2 at 17 g/cm3 and -20 eV/atom): not a phase.
COLLAPSED_FORMATION_ENERGY_EV = -6.0


@lru_cache(maxsize=2)
def load_model(name: str = DEFAULT_MODEL) -> CHGNet:
    """The CHGNet model (loaded once per process; weights ship with the package)."""
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet v0.3.0 initialized ..."
        return CHGNet.load(model_name=name, use_device="cpu", verbose=False)


def method_label(model: CHGNet | None = None) -> str:
    """Tag stored with every energy, so numbers from different models are never mixed."""
    model = model or load_model()
    return f"chgnet-{model.version}"


def _check_structures(structures: Sequence[Structure]) -> list[Structure]:
    if isinstance(structures, Structure):
        structures = [structures]
    out = list(structures)
    for i, s in enumerate(out):
        if not isinstance(s, Structure):
            raise InvalidInput(f"item {i} is a {type(s).__name__}, not a pymatgen Structure")
        if len(s) == 0:
            raise InvalidInput(f"item {i} is an empty structure")
    return out


def build_graphs(structures: Sequence[Structure], model: CHGNet | None = None,
                 ids: Sequence[str] | None = None) -> list[CrystalGraph]:
    """CHGNet's graph of each structure (built once; every later pass reuses it).

    A structure CHGNet cannot make a graph of is :class:`InvalidInput` naming it.
    """
    structures = _check_structures(structures)
    model = model or load_model()
    names = [str(i) for i in ids] if ids is not None else [str(i) for i in
                                                          range(len(structures))]
    graphs = []
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints on odd inputs
        for structure, name in zip(structures, names):
            try:
                graphs.append(model.graph_converter(structure, graph_id=name))
            except Exception as exc:
                reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise InvalidInput(f"structure {name} has no CHGNet graph: {reason}") from None
    return graphs


def batches(graphs: Sequence[CrystalGraph], batch_size: int = BATCH_SIZE,
            max_angles: int = MAX_ANGLES_PER_BATCH) -> list[list[int]]:
    """Indices of ``graphs`` in batches: sorted by size (angles, then atoms), at most
    ``batch_size`` graphs and ``max_angles`` angles each (one larger graph goes alone)."""
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
    if max_angles < 1:
        raise InvalidInput(f"max_angles must be at least 1, got {max_angles}")
    order = sorted(range(len(graphs)), key=lambda i: (len(graphs[i].bond_graph),
                                                      len(graphs[i].atomic_number)))
    out: list[list[int]] = []
    current: list[int] = []
    angles = 0
    for i in order:
        size = len(graphs[i].bond_graph)
        if current and (len(current) == batch_size or angles + size > max_angles):
            out.append(current)
            current, angles = [], 0
        current.append(i)
        angles += size
    if current:
        out.append(current)
    return out


def predict_graph_energies(graphs: Sequence[CrystalGraph], batch_size: int = BATCH_SIZE,
                           model: CHGNet | None = None,
                           max_angles: int = MAX_ANGLES_PER_BATCH) -> np.ndarray:
    """Energies (eV/atom) of prebuilt graphs, in their order: sorted batches, no autograd."""
    import torch

    model = model or load_model()
    energies = np.zeros(len(graphs))
    model.eval()
    with torch.inference_mode():
        for batch in batches(graphs, batch_size, max_angles):
            prediction = model([graphs[i] for i in batch], task="e")
            energies[batch] = prediction["e"].double().cpu().numpy()
    return energies


def predict_energies(structures: Sequence[Structure], batch_size: int = BATCH_SIZE,
                     model: CHGNet | None = None,
                     max_angles: int = MAX_ANGLES_PER_BATCH) -> np.ndarray:
    """Single-point energies (eV/atom): graphs built once, sorted batches (see the module)."""
    structures = _check_structures(structures)
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
    if not structures:
        return np.zeros(0)
    model = model or load_model()
    return predict_graph_energies(build_graphs(structures, model), batch_size, model,
                                  max_angles)


def predict_energies_one_by_one(structures: Sequence[Structure],
                                model: CHGNet | None = None) -> np.ndarray:
    """The same energies with one model call per structure (the throughput baseline)."""
    structures = _check_structures(structures)
    model = model or load_model()
    return np.array([float(model.predict_structure(s, task="e")["e"]) for s in structures])


# ------------------------------------------------------------------------- references

@dataclass(frozen=True)
class References:
    """Reference phases with energies from one method: the hull everything is measured on."""

    entries: tuple[ComputedStructureEntry, ...]
    method: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @cached_property
    def elements(self) -> frozenset[str]:
        return frozenset(e.symbol for entry in self.entries for e in entry.composition.elements)

    @cached_property
    def elemental_energies(self) -> dict[str, float]:
        """Lowest energy per atom of each element's phases (the chemical potentials)."""
        mu: dict[str, float] = {}
        for entry in self.entries:
            if len(entry.composition.elements) == 1:
                el = entry.composition.elements[0].symbol
                mu[el] = min(mu.get(el, np.inf), entry.energy_per_atom)
        return mu

    @cached_property
    def phase_diagram(self) -> PhaseDiagram:
        missing = self.elements - set(self.elemental_energies)
        if missing:
            raise InvalidInput("references lack an elemental phase for "
                               + ", ".join(sorted(missing)))
        return PhaseDiagram(list(self.entries))

    def entry(self, name: str) -> ComputedStructureEntry:
        for e in self.entries:
            if e.data.get("name") == name:
                return e
        raise InvalidInput(f"no reference phase named {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "meta": self.meta,
                "entries": [e.as_dict() for e in self.entries]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> References:
        return cls(tuple(ComputedStructureEntry.from_dict(e) for e in d["entries"]),
                   d["method"], d.get("meta", {}))


def relaxation_settings(steps: int = 300, fmax: float = 0.05,
                        relax_cell: bool = True) -> ChgnetRelaxation:
    """The CHGNet relaxation of crystal campaigns (references and candidates alike).

    No collapse check: a substituted prototype may legitimately change volume a lot.
    """
    return ChgnetRelaxation(steps=steps, fmax_eV_per_A=fmax, relax_cell=relax_cell,
                            max_volume_change=None)


def build_references(phases: Sequence[ReferencePhase], steps: int = 300, fmax: float = 0.05,
                     model: CHGNet | None = None) -> References:
    """Relax every reference phase with CHGNet and keep its final energy.

    Relaxing (not single points on literature geometries) is what candidates get in the
    simulate stage (the same :class:`~mofgen.engines.chgnet_relax.ChgnetRelaxation`, here
    in this process with one loaded model), so hull distances compare like with like.
    """
    model = model or load_model()
    entries = []
    for phase in phases:
        relaxation = relaxation_settings(steps, fmax, relax_cell=phase.relax_cell)
        r = relaxation.run_in_process(phase.structure, model=model)
        if not r.ok:
            raise ToolFailure(f"reference phase {phase.name} did not relax: {r.reason}")
        final = r.relaxed_structure
        entries.append(ComputedStructureEntry(
            final, r.energy_per_atom_eV * len(final),
            data={"name": phase.name, "source": phase.source, "relax_steps": r.n_steps,
                  "converged": r.converged}))
    return References(tuple(entries), method_label(model),
                      {"relax_steps": steps, "fmax": fmax})


# ------------------------------------------------------------------- derived energies

def _composition(structure_or_composition: Structure | Composition) -> Composition:
    if isinstance(structure_or_composition, Structure):
        return structure_or_composition.composition.element_composition
    return Composition(structure_or_composition).element_composition


def formation_energy_per_atom(structure: Structure | Composition, energy_per_atom: float,
                              references: References) -> float:
    """E_f = E - sum_i x_i mu_i (eV/atom), with mu_i the references' elemental energies."""
    comp = _composition(structure)
    mu = references.elemental_energies
    missing = [e.symbol for e in comp.elements if e.symbol not in mu]
    if missing:
        raise InvalidInput(f"no elemental reference for {', '.join(missing)} "
                           f"(references cover {'-'.join(sorted(mu))})")
    return float(energy_per_atom - sum(comp.get_atomic_fraction(el) * mu[el.symbol]
                                       for el in comp.elements))


def collapse_reason(formation_energy_eV_per_atom: float) -> str | None:
    """Why a relaxed structure is not a phase (a hole of the potential), else None."""
    if formation_energy_eV_per_atom < COLLAPSED_FORMATION_ENERGY_EV:
        return (f"relaxation collapsed: formation energy {formation_energy_eV_per_atom:.2f} "
                f"eV/atom is below {COLLAPSED_FORMATION_ENERGY_EV:g}, which no real compound "
                "reaches")
    return None


def energy_above_hull(structure: Structure | Composition, energy_per_atom: float,
                      references: References) -> float:
    """Distance (eV/atom) of a phase from the references' convex hull.

    ``energy_per_atom`` must come from the references' method. Negative values mean the
    phase lies *below* the current hull, i.e. it would be a new stable phase.
    """
    comp = _composition(structure)
    outside = {e.symbol for e in comp.elements} - references.elements
    if outside:
        raise InvalidInput(f"{comp.reduced_formula} has {', '.join(sorted(outside))}, outside "
                           f"the references' system {'-'.join(sorted(references.elements))}")
    entry = PDEntry(comp, energy_per_atom * comp.num_atoms)
    _, e_hull = references.phase_diagram.get_decomp_and_e_above_hull(
        entry, allow_negative=True, check_stable=False)
    return float(e_hull)


# -------------------------------------------------------------------------- screening

@dataclass(frozen=True)
class ScreenResult:
    energy_per_atom: float  # eV/atom, CHGNet single point
    formation_energy_per_atom: float | None  # eV/atom, None without references
    method: str

    def passes(self, max_formation_energy: float) -> bool:
        """exa-AMD's screen: keep candidates whose formation energy is low enough."""
        return (self.formation_energy_per_atom is not None
                and self.formation_energy_per_atom <= max_formation_energy)


def _results(structures: list[Structure], energies: np.ndarray,
             references: References | None, method: str) -> list[ScreenResult]:
    return [ScreenResult(float(e), None if references is None else
                         formation_energy_per_atom(s, float(e), references), method)
            for s, e in zip(structures, energies)]


def screen_batch(structures: Sequence[Structure], batch_size: int = BATCH_SIZE,
                 references: References | None = None,
                 model: CHGNet | None = None) -> list[ScreenResult]:
    """Batched CHGNet single points (+ formation energies when references are given)."""
    structures = _check_structures(structures)
    model = model or load_model()
    return _results(structures, predict_energies(structures, batch_size, model), references,
                    method_label(model))


def screen_graphs(structures: Sequence[Structure], graphs: Sequence[CrystalGraph],
                  batch_size: int = BATCH_SIZE, references: References | None = None,
                  model: CHGNet | None = None) -> list[ScreenResult]:
    """:func:`screen_batch` on graphs the caller built (:func:`build_graphs`) from
    ``structures``, e.g. one at a time to reject only the structures without a graph."""
    structures = _check_structures(structures)
    if len(graphs) != len(structures):
        raise InvalidInput(f"{len(structures)} structures but {len(graphs)} graphs")
    model = model or load_model()
    return _results(structures, predict_graph_energies(graphs, batch_size, model), references,
                    method_label(model))


def screen_one_by_one(structures: Sequence[Structure], references: References | None = None,
                      model: CHGNet | None = None) -> list[ScreenResult]:
    """Same as :func:`screen_batch` with one model call per structure (baseline)."""
    structures = _check_structures(structures)
    model = model or load_model()
    return _results(structures, predict_energies_one_by_one(structures, model), references,
                    method_label(model))
