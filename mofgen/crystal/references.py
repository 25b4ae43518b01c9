"""Reference phases of any chemical system: the hull a crystal campaign measures against.

No external database (Materials Project, OQMD, ...) is reachable here, so the hull is built
from what ships, and it is **CHGNet-self-consistent**: every phase is relaxed with the same
CHGNet model as the candidates, and energies above hull are distances from the hull of
these phases, not from the experimental or DFT hull.

* **Curated** phases (literature structures, :func:`mofgen.crystal.prototypes.reference_phases`)
  are used as they are for a system they cover (Li-Fe-O and its sub-systems), and their
  members inside a larger system are added to the built ones.
* **Elements**: H, N, O, F, Cl, Br and I as diatomic molecules in a 10 A box (positions
  relaxed only); every other element in ASE's reference state when ASE can build it, the
  library's prototypes of that element (alpha-Ga, black P, ...) and, for metals, fcc, bcc
  and hcp; at most ``MAX_PER_ELEMENT`` per element, all relaxed (the hull takes the lowest).
* **Binaries**: every two-element template of the library with at most
  ``BINARY_MAX_SITES`` sites, substituted with each pair of the system's elements, kept if
  the composition passes SMACT's screen (charge-balanced, or an alloy of metals); a batched
  CHGNet single point on all of them, a provisional hull with the relaxed elements, and the
  ``max_references`` lowest above that hull (at most two per composition) are relaxed.
  Ternary and quaternary compounds are not references: they are what a campaign looks for.
* A **references file** of the user's adds phases (or replaces the built ones with
  ``builtin_references: false``): see :func:`load_references_file`.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymatgen.core import Element, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedStructureEntry

from mofgen.crystal.prototypes import ReferencePhase, parse_system
from mofgen.errors import InvalidInput

MAX_PER_ELEMENT = 3
BINARY_MAX_SITES = 12
MAX_PER_COMPOSITION = 2
ISOLATED_CUTOFF = 5.0  # A: CHGNet's bond graph cut-off
MOLECULE_BOX = 10.0  # A: images beyond CHGNet's 5 A graph cut-off
#: bond lengths (A) of the diatomic elements (NIST CCCBDB experimental values)
DIATOMIC = {"H": 0.741, "N": 1.098, "O": 1.208, "F": 1.412, "Cl": 1.988, "Br": 2.281,
            "I": 2.666}
_ASE_COMPLETE = {"fcc", "bcc", "hcp", "diamond", "sc", "bct", "rhombohedral"}


# ------------------------------------------------------------------------------ elements
def _molecule(symbol: str) -> ReferencePhase:
    c, d = MOLECULE_BOX / 2, DIATOMIC[symbol]
    structure = Structure(Lattice.cubic(MOLECULE_BOX), [symbol, symbol],
                          [[c, c, c - d / 2], [c, c, c + d / 2]], coords_are_cartesian=True)
    return ReferencePhase(f"{symbol}2 (molecule)", structure,
                          f"{symbol}2 molecule, d = {d} A (NIST CCCBDB), in a "
                          f"{MOLECULE_BOX:g} A box; positions relaxed only", relax_cell=False)


def _close_packed(symbol: str, volume_per_atom: float) -> list[ReferencePhase]:
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    v = volume_per_atom
    cells = {"fcc": {"a": (4 * v) ** (1 / 3)}, "bcc": {"a": (2 * v) ** (1 / 3)},
             "hcp": {"a": (v / 0.7071) ** (1 / 3), "covera": 1.633}}
    return [ReferencePhase(f"{symbol} ({kind})",
                           AseAtomsAdaptor.get_structure(bulk(symbol, kind, **kw)),
                           f"{kind} {symbol} at {v:.2f} A^3/atom (ase.build.bulk)")
            for kind, kw in cells.items()]


def elemental_phases(symbol: str) -> list[ReferencePhase]:
    """Up to ``MAX_PER_ELEMENT`` structures of an element for CHGNet to relax."""
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states
    from pymatgen.io.ase import AseAtomsAdaptor

    from mofgen.crystal.compositions import atomic_radius
    from mofgen.crystal.library import structure_label, templates

    if symbol in DIATOMIC:
        return [_molecule(symbol)]
    phases: list[ReferencePhase] = []
    state = reference_states[atomic_numbers[symbol]] or {}
    if state.get("symmetry") in _ASE_COMPLETE:
        try:
            atoms = bulk(symbol)
            phases.append(ReferencePhase(
                f"{symbol} ({state['symmetry']})", AseAtomsAdaptor.get_structure(atoms),
                f"ASE reference state of {symbol}: {state['symmetry']} "
                "(ase.data.reference_states)"))
        except (ValueError, KeyError, RuntimeError, NotImplementedError):
            # ASE lacks a lattice constant for this element's reference state: the
            # library's structures and the close-packed cells below stand in for it
            pass
    for t in templates(min_elements=1, max_elements=1):
        if t.formula == symbol:
            phases.append(ReferencePhase(f"{symbol} ({t.name.split(':')[0]})",
                                         t.structure.copy(), t.source))
    if Element(symbol).is_metal or not phases:
        volume = (phases[0].structure.volume / len(phases[0].structure) if phases
                  else 4 * math.sqrt(2) * atomic_radius(symbol) ** 3)  # touching spheres, fcc
        phases.extend(_close_packed(symbol, volume))
    seen, kept = set(), []
    for p in phases:
        label = structure_label(p.structure)
        if label not in seen:
            seen.add(label)
            kept.append(p)
    return kept[:MAX_PER_ELEMENT]


# ------------------------------------------------------------------------------ binaries
def binary_candidates(system: str | Sequence[str]) -> list[ReferencePhase]:
    """Substituted two-element templates of every pair of the system's elements."""
    import itertools

    from mofgen.crystal.compositions import passes_smact
    from mofgen.crystal.generators import relabelled, slot_symmetries, substitute
    from mofgen.crystal.library import templates

    elements = parse_system(system)
    binaries = [t for t in templates(min_elements=2, max_elements=2)
                if len(t.structure) <= BINARY_MAX_SITES]
    out = []
    for pair in itertools.combinations(elements, 2):
        for t in binaries:
            amounts = t.structure.composition.get_el_amt_dict()
            symmetries = slot_symmetries(t.name)
            for chosen in itertools.permutations(pair):
                mapping = tuple(zip(t.elements, chosen))
                if any(relabelled(mapping, sigma) < mapping for sigma in symmetries):
                    continue  # the same crystal as the other assignment
                formula = "".join(f"{new}{amounts[old]:g}" for old, new in mapping)
                if not passes_smact(formula):
                    continue
                structure = substitute(t.name, mapping)
                if _isolated(structure):
                    continue
                out.append(ReferencePhase(
                    f"{structure.composition.reduced_formula} ({t.name})", structure,
                    f"{t.name} with {', '.join(f'{a}->{b}' for a, b in mapping)}; "
                    f"template: {t.source}"))
    return out


def _isolated(structure: Structure, cutoff: float = ISOLATED_CUTOFF) -> bool:
    """Any atom without a neighbour within ``cutoff``: a molecular template blown up by
    large atoms, which CHGNet cannot score (its graph has no edge there)."""
    return any(not neighbours for neighbours in structure.get_all_neighbors(cutoff))


# ------------------------------------------------------------------------- user's file
@dataclass(frozen=True)
class UserReferences:
    """Phases of a references file: to relax, and with energies already computed."""

    to_relax: list[ReferencePhase]
    computed: list[ComputedStructureEntry]


def _structure_of(item: dict[str, Any], where: str) -> Structure:
    try:
        if "structure" in item:
            return Structure.from_dict(item["structure"])
        if "cif" in item:
            from pymatgen.io.cif import CifParser

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return CifParser.from_str(item["cif"]).parse_structures(primitive=False)[0]
    except Exception as exc:  # pymatgen raises many kinds on bad structure data
        raise InvalidInput(f"{where}: not a readable structure ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    raise InvalidInput(f"{where}: needs 'structure' (a pymatgen dict) or 'cif' (CIF text)")


def _checked(structure: Structure, elements: set[str], where: str) -> Structure:
    from mofgen.crystal.validity import check_validity

    if len(structure) == 0 or not structure.is_ordered:
        raise InvalidInput(f"{where}: empty or disordered structure")
    outside = {el.symbol for el in structure.composition.elements} - elements
    if outside:
        raise InvalidInput(f"{where}: {structure.composition.reduced_formula} has "
                           f"{', '.join(sorted(outside))}, outside the system "
                           f"{'-'.join(sorted(elements))}")
    distance = check_validity(structure).check("min_distance")
    if not distance.passed:
        raise InvalidInput(f"{where}: {distance.detail}")
    return structure.copy().remove_oxidation_states()


def load_references_file(path: str | Path, system: str | Sequence[str],
                         method: str | None = None) -> UserReferences:
    """Read and check a references file; any problem is one :class:`InvalidInput` line.

    Accepted: a CIF file (every data block is a phase, relaxed); a JSON list of
    ``{"name", "structure" | "cif", "energy_per_atom"?, "method"?, "source"?}`` (relaxed,
    unless ``energy_per_atom`` is given with a ``method`` equal to the campaign's, e.g.
    ``"chgnet-0.3.0"``: energies of different methods are never mixed on one hull); or a
    ``references.json`` written by ``mofgen export`` (energies reused if its method matches,
    else its structures are relaxed again).
    """
    path = Path(path)
    elements = set(parse_system(system))
    where = f"references file {path}"
    if not path.is_file():
        raise InvalidInput(f"{where}: no such file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where}: cannot read it ({exc})") from None
    if path.suffix.lower() == ".cif":
        return UserReferences(_cif_phases(text, elements, where, path.name), [])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not JSON ({exc.msg}, line {exc.lineno}) "
                           "and not a .cif") from None
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        return _exported(data, elements, method, where)
    if not isinstance(data, list) or not data:
        raise InvalidInput(f"{where}: expected a non-empty JSON list of phases, or an "
                           "exported references.json")
    to_relax, computed = [], []
    for i, item in enumerate(data):
        at = f"{where}, item {i}"
        if not isinstance(item, dict):
            raise InvalidInput(f"{at}: expected an object, got {type(item).__name__}")
        unknown = set(item) - {"name", "structure", "cif", "energy_per_atom", "method", "source"}
        if unknown:
            raise InvalidInput(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        structure = _checked(_structure_of(item, at), elements, at)
        name = str(item.get("name") or structure.composition.reduced_formula)
        source = str(item.get("source") or f"user references file {path.name}")
        energy = item.get("energy_per_atom")
        if energy is None:
            to_relax.append(ReferencePhase(name, structure, source))
            continue
        if isinstance(energy, bool) or not isinstance(energy, (int, float)) \
                or not math.isfinite(energy) or not -50 < energy < 10:
            raise InvalidInput(f"{at}: energy_per_atom must be a finite number of eV/atom "
                               f"(-50..10), got {energy!r}")
        if item.get("method") != method:
            raise InvalidInput(f"{at}: an energy_per_atom needs \"method\": {method!r} (this "
                               "campaign's); energies of other methods are not mixed into a "
                               "CHGNet hull: drop the energy to have the structure relaxed")
        computed.append(ComputedStructureEntry(
            structure, float(energy) * len(structure),
            data={"name": name, "source": source, "given_energy": True}))
    return UserReferences(to_relax, computed)


def _cif_phases(text: str, elements: set[str], where: str, name: str) -> list[ReferencePhase]:
    from pymatgen.io.cif import CifParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser = CifParser.from_str(text)
            structures = parser.parse_structures(primitive=False)
    except Exception as exc:  # pymatgen raises many kinds on bad CIFs
        raise InvalidInput(f"{where}: not a readable CIF ({type(exc).__name__})") from None
    if not structures:
        raise InvalidInput(f"{where}: no structure in the CIF")
    return [ReferencePhase(s.composition.reduced_formula,
                           _checked(s, elements, f"{where}, block {i}"),
                           f"user references file {name}") for i, s in enumerate(structures)]


def _exported(data: dict[str, Any], elements: set[str], method: str | None,
              where: str) -> UserReferences:
    to_relax, computed = [], []
    for i, raw in enumerate(data["entries"]):
        at = f"{where}, entry {i}"
        try:
            entry = ComputedStructureEntry.from_dict(raw)
        except Exception as exc:  # pymatgen raises many kinds on bad dicts
            raise InvalidInput(f"{at}: not a ComputedStructureEntry ({type(exc).__name__})") \
                from None
        structure = _checked(entry.structure, elements, at)
        if data.get("method") == method and math.isfinite(entry.energy_per_atom):
            computed.append(ComputedStructureEntry(structure, entry.energy,
                                                   data={**entry.data, "given_energy": True}))
        else:
            name = str(entry.data.get("name") or structure.composition.reduced_formula)
            to_relax.append(ReferencePhase(name, structure, str(entry.data.get("source", ""))))
    if not to_relax and not computed:
        raise InvalidInput(f"{where}: no entries")
    return UserReferences(to_relax, computed)


# --------------------------------------------------------------------------------- build
def _curated_within(elements: set[str]) -> tuple[list[ReferencePhase], bool]:
    """Curated phases inside ``elements``, and whether they cover the whole system."""
    from mofgen.crystal.prototypes import _SYSTEMS

    for key, builder in _SYSTEMS.items():
        if elements <= key:
            return [p for p in builder()
                    if {e.symbol for e in p.structure.composition} <= elements], True
    phases = [p for key, builder in _SYSTEMS.items() for p in builder()
              if {e.symbol for e in p.structure.composition} <= elements]
    return phases, False


def expected_method() -> str:
    """The method label CHGNet energies of a campaign carry (without loading the model)."""
    from mofgen.crystal.energy import DEFAULT_MODEL

    return f"chgnet-{DEFAULT_MODEL}"


def check_references_file(settings: Any) -> None:
    """Refuse a bad references file at campaign start (read and checked, nothing relaxed)."""
    if settings.references_file:
        load_references_file(settings.references_file, settings.system, expected_method())


def campaign_references(settings: Any, say: Callable[[str], None] | None = None):
    """Relax the reference phases of ``settings.system`` with CHGNet: the campaign's hull.

    ``settings`` is a campaign's ``crystal:`` section (system, reference_relax_steps,
    max_references, references_file, builtin_references). Returns
    :class:`mofgen.crystal.energy.References` whose ``meta`` says what was built and how long
    it took (``build_seconds`` wall clock, ``build_cpu_seconds`` of this process).
    """
    from mofgen.crystal.energy import References, build_references, load_model, method_label

    started, cpu = time.monotonic(), time.process_time()
    say = say or (lambda _: None)
    elements = set(parse_system(settings.system))
    model = load_model()
    method = method_label(model)
    steps = settings.reference_relax_steps
    user = (load_references_file(settings.references_file, settings.system, method)
            if settings.references_file else UserReferences([], []))
    entries: list[ComputedStructureEntry] = list(user.computed)
    curated, covered = _curated_within(elements) if settings.builtin_references else ([], False)
    counts: Counter[str] = Counter(user=len(user.to_relax) + len(user.computed),
                                   curated=len(curated))

    phases = list(curated) + list(user.to_relax)
    have = {e.symbol for p in phases for e in p.structure.composition.elements
            if len(p.structure.composition.elements) == 1}
    have |= {e.composition.elements[0].symbol for e in entries
             if len(e.composition.elements) == 1}
    # every element needs a chemical potential, even when the user's file lacks it
    missing = sorted(elements - have)
    element_phases = [p for el in missing for p in elemental_phases(el)]
    counts["elements"] = len(element_phases)
    say(f"relaxing {len(phases) + len(element_phases)} reference phase(s) of "
        f"{settings.system} with CHGNet (once per campaign)")
    relaxed = build_references(phases + element_phases, steps=steps, model=model)
    entries.extend(relaxed.entries)

    if settings.builtin_references and not covered:
        chosen = _select_binaries(binary_candidates(settings.system), entries,
                                  settings.max_references, settings.screen_batch_size, model)
        counts["binaries_screened"] = len(chosen[1])
        counts["binaries"] = len(chosen[0])
        if chosen[0]:
            say(f"relaxing {len(chosen[0])} of {len(chosen[1])} screened binary phase(s) "
                "(lowest above the provisional hull)")
            entries.extend(build_references(chosen[0], steps=steps, model=model).entries)
    entries, collapsed = drop_collapsed(entries)
    if collapsed:
        counts["collapsed"] = len(collapsed)
        say(f"dropped {len(collapsed)} reference phase(s) whose relaxation collapsed: "
            + ", ".join(collapsed))
    meta = {"relax_steps": steps, "fmax": relaxed.meta.get("fmax"), "collapsed": collapsed,
            "build_seconds": round(time.monotonic() - started, 1),
            "build_cpu_seconds": round(time.process_time() - cpu, 1), "counts": dict(counts),
            "self_consistent": "every phase relaxed with the campaign's CHGNet; no external "
                               "database"}
    references = References(tuple(entries), method, meta)
    references.phase_diagram  # noqa: B018 - refuse here, not in a worker, if an element lacks a phase
    return references


def drop_collapsed(entries: list[ComputedStructureEntry]) -> tuple[
        list[ComputedStructureEntry], list[str]]:
    """The entries without compounds whose relaxation fell into a hole of the potential
    (:func:`mofgen.crystal.energy.collapse_reason`), and the names of those dropped: one
    such phase would put every candidate of the system far above the hull."""
    from mofgen.crystal.energy import collapse_reason

    mu: dict[str, float] = {}
    for e in entries:
        if len(e.composition.elements) == 1:
            symbol = e.composition.elements[0].symbol
            mu[symbol] = min(mu.get(symbol, math.inf), e.energy_per_atom)
    kept, dropped = [], []
    for e in entries:
        comp = e.composition
        if len(comp.elements) > 1 and all(el.symbol in mu for el in comp.elements):
            formation = e.energy_per_atom - sum(comp.get_atomic_fraction(el) * mu[el.symbol]
                                                for el in comp.elements)
            if collapse_reason(formation) is not None:
                dropped.append(str(e.data.get("name", comp.reduced_formula)))
                continue
        kept.append(e)
    return kept, dropped


def _select_binaries(candidates: list[ReferencePhase], entries: list[ComputedStructureEntry],
                     limit: int, batch_size: int, model) -> tuple[list[ReferencePhase],
                                                                  list[ReferencePhase]]:
    """The ``limit`` candidates lowest above the provisional hull (elements relaxed,
    candidates single points), at most ``MAX_PER_COMPOSITION`` per composition."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    from mofgen.crystal.energy import predict_energies

    if not candidates or limit == 0:
        return [], candidates
    energies = predict_energies([c.structure for c in candidates], batch_size, model)
    provisional = [PDEntry(c.structure.composition, float(e) * len(c.structure))
                   for c, e in zip(candidates, energies)]
    diagram = PhaseDiagram(list(entries) + provisional)
    ranked = sorted(zip(candidates, provisional),
                    key=lambda pair: diagram.get_e_above_hull(pair[1], allow_negative=True))
    chosen, per_formula = [], Counter()
    for phase, _ in ranked:
        formula = phase.structure.composition.reduced_formula
        if per_formula[formula] < MAX_PER_COMPOSITION:
            per_formula[formula] += 1
            chosen.append(phase)
        if len(chosen) == limit:
            break
    return chosen, candidates
