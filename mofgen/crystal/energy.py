"""CHGNet energies, formation energies and energies above the convex hull.

One method for every number that is compared: candidates and reference phases are all
evaluated with the same CHGNet model (relaxed the same way when relaxed), so hull
energies never mix methods. CHGNet was trained on Materials Project energies with the
MP2020 corrections already applied, so its energies of oxides and of the elements sit on
one consistent scale and need no further correction.

Batched inference (``screen_batch``) is the throughput path: CHGNet runs one forward pass
per batch of graphs instead of one per structure. On a CPU the arithmetic dominates and
batching only removes per-call overhead (1.2-1.4x for 2-28-atom cells in
``benchmarks/bench_crystal_screen.py``, against ``screen_one_by_one`` as the baseline);
on a GPU a large batch is what fills the device.

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
    from chgnet.model import CHGNet

    from mofgen.crystal.prototypes import ReferencePhase

DEFAULT_MODEL = "0.3.0"  # the weights shipped in the chgnet wheel


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


def predict_energies(structures: Sequence[Structure], batch_size: int = 16,
                     model: CHGNet | None = None) -> np.ndarray:
    """Single-point energies (eV/atom), ``batch_size`` structures per forward pass."""
    structures = _check_structures(structures)
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
    if not structures:
        return np.zeros(0)
    model = model or load_model()
    preds = model.predict_structure(structures, task="e", batch_size=batch_size)
    if isinstance(preds, dict):  # CHGNet unwraps a one-element list
        preds = [preds]
    return np.array([float(p["e"]) for p in preds])


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


def screen_batch(structures: Sequence[Structure], batch_size: int = 16,
                 references: References | None = None,
                 model: CHGNet | None = None) -> list[ScreenResult]:
    """Batched CHGNet single points (+ formation energies when references are given)."""
    structures = _check_structures(structures)
    model = model or load_model()
    return _results(structures, predict_energies(structures, batch_size, model), references,
                    method_label(model))


def screen_one_by_one(structures: Sequence[Structure], references: References | None = None,
                      model: CHGNet | None = None) -> list[ScreenResult]:
    """Same as :func:`screen_batch` with one model call per structure (baseline)."""
    structures = _check_structures(structures)
    model = model or load_model()
    return _results(structures, predict_energies_one_by_one(structures, model), references,
                    method_label(model))
