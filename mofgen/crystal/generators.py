"""Candidate generators of crystal campaigns: a small registry of resumable sequences.

A generator is a deterministic sequence of candidates for a campaign config. It is called
as ``generator(config, cursor, count)`` and returns a :class:`GeneratedBatch`: up to
``count`` candidates starting at position ``cursor``, the position after them and whether
the sequence has ended. The campaign stores the cursor (``counters.generator_cursor``) only
after the batch is stored, so a restarted campaign continues where it stopped, and a task
killed half-way proposes the same candidates again (de-duplication keeps one copy).

Built in (``crystal.generator``):

* ``template`` (default): element substitution over the prototype library
  (:mod:`mofgen.crystal.library`, 248 distinct prototypes) for every sub-system of two or
  more elements; a substituted composition is kept if it passes SMACT's screen
  (:func:`mofgen.crystal.compositions.passes_smact`); volumes rescaled by Slater radii.
  The whole system's compositions first, smallest cells first. Finite (429 candidates
  for Mg-Al-O, 1 754 for Ba-Ti-O-N).
* ``substitution``: pymatgen's data-mined ionic substitution (Hautier et al. 2011) over the
  eleven hand-built ionic prototypes (:mod:`mofgen.crystal.generate`). Finite, small.
* ``pyxtal``: random symmetric crystals (pyxtal; Fredericks et al., Comput. Phys. Commun.
  261, 107810, 2021) over the compositions that pass SMACT's screen
  (:mod:`mofgen.crystal.random_structures`). Endless: position ``i`` is one attempt seeded
  by ``(config.seed, i)``.

Generators chain with ``+``: ``template+pyxtal`` proposes the template sequence, then
pyxtal's once the templates are used up (exa-AMD's known prototypes first, then a random
search that never ends). The chain's cursor is ``part * CHAIN_STRIDE + position in that
part``, one integer like every other cursor.

Packages add generators through the ``mofgen.crystal_generators`` entry-point group: either
a callable with this signature, or an older one ``(config, start, count) -> [Candidate]``
(position = candidates proposed, ended when a batch comes back short).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pymatgen.core import Composition, Element, Structure

from mofgen.crystal.generate import Candidate
from mofgen.errors import InvalidInput

Generator = Callable[[Any, int, int], "GeneratedBatch"]


@dataclass(frozen=True)
class GeneratedBatch:
    """Candidates of one call, the position after them, and whether the sequence ended."""

    candidates: list[Candidate]
    cursor: int
    exhausted: bool


# --------------------------------------------------------------------------- substitution
@lru_cache(maxsize=8)
def _substitution_candidates(system: str, prototypes: tuple[str, ...] | None,
                             threshold: float) -> tuple[Candidate, ...]:
    from mofgen.crystal.generate import candidates
    from mofgen.crystal.prototypes import prototypes as shipped

    protos = shipped(list(prototypes)) if prototypes is not None else None
    return tuple(candidates(system, protos, threshold=threshold))


def substitution_generator(config: Any, cursor: int, count: int) -> GeneratedBatch:
    """Candidates ``cursor .. cursor+count`` of the ranked ionic-substitution list."""
    s = config.settings
    ranked = _substitution_candidates(s.system, tuple(s.prototypes) if s.prototypes else None,
                                      s.substitution_threshold)
    batch = list(ranked[cursor:cursor + count])
    end = cursor + len(batch)
    return GeneratedBatch(batch, end, end >= len(ranked))


# ------------------------------------------------------------------------------- template
Mapping = tuple[tuple[str, str], ...]  # (exemplar element, new element), sorted


@lru_cache(maxsize=8)
def template_plan(system: str, names: tuple[str, ...] | None = None,
                  max_atoms: int = 24) -> tuple[tuple[str, Mapping], ...]:
    """The template generator's sequence: (template name, element mapping) pairs.

    Every template with 2..n elements and at most ``max_atoms`` sites, every injective
    assignment of the system's elements to its elements whose composition passes SMACT's
    screen; ordered by number of elements (the whole system first: its binaries are mostly
    in the references already), then cell size (cheap first), template name, mapping.
    """
    from mofgen.crystal.compositions import passes_smact
    from mofgen.crystal.library import templates
    from mofgen.crystal.prototypes import parse_system

    elements = parse_system(system)
    plan: list[tuple[int, str, Mapping]] = []
    for t in templates(names, min_elements=2, max_elements=len(elements)):
        if len(t.structure) > max_atoms:
            continue
        amounts = t.structure.composition.get_el_amt_dict()
        symmetries = slot_symmetries(t.name)
        for chosen in itertools.permutations(elements, len(t.elements)):
            mapping = tuple(zip(t.elements, chosen))
            if any(relabelled(mapping, sigma) < mapping for sigma in symmetries):
                continue  # the same structure as an earlier mapping
            formula = Composition({new: amounts[old] for old, new in mapping}).reduced_formula
            if passes_smact(formula):
                plan.append((-len(t.elements), len(t.structure), t.name, mapping))
    plan.sort()
    return tuple((name, mapping) for *_, name, mapping in plan)


def relabelled(mapping: Mapping, sigma: dict[str, str]) -> Mapping:
    return tuple(sorted((sigma[old], new) for old, new in mapping))


@lru_cache(maxsize=512)
def slot_symmetries(name: str) -> tuple[dict[str, str], ...]:
    """Permutations of the template's elements that leave its structure unchanged (rock
    salt's A <-> B): mappings related by one of them give the same crystal."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from mofgen.crystal.library import templates

    structure = templates([name])[0].structure
    slots = sorted(el.symbol for el in structure.composition.elements)
    amounts = structure.composition.get_el_amt_dict()
    matcher = StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False)
    found = []
    for image in itertools.permutations(slots):
        sigma = dict(zip(slots, image))
        if image == tuple(slots) or any(amounts[a] != amounts[b] for a, b in sigma.items()):
            continue
        swapped = structure.copy()
        swapped.replace_species({Element(a): Element(b) for a, b in sigma.items() if a != b})
        if matcher.fit(structure, swapped):
            found.append(sigma)
    return tuple(found)


@lru_cache(maxsize=512)
def _first_shell(name: str) -> tuple[tuple[str, str, int], ...]:
    """Element pairs of the template's first-shell bonds, with their counts: for each site,
    the neighbours within 15 % of its nearest-neighbour distance."""
    from mofgen.crystal.library import templates

    structure = templates([name])[0].structure
    pairs: Counter[tuple[str, str]] = Counter()
    for site, neighbours in zip(structure, structure.get_all_neighbors(6.0)):
        if not neighbours:
            continue
        nearest = min(n.nn_distance for n in neighbours)
        for n in neighbours:
            if n.nn_distance <= 1.15 * nearest:
                pairs[tuple(sorted((site.specie.symbol, n.specie.symbol)))] += 1
    return tuple((a, b, k) for (a, b), k in sorted(pairs.items()))


def substitute(name: str, mapping: Mapping) -> Structure:
    """The template ``name`` with its elements replaced, isotropically rescaled by the mean
    ratio new/old of Slater-radius sums over its first-shell bonds."""
    from mofgen.crystal.compositions import atomic_radius
    from mofgen.crystal.library import templates

    structure = templates([name])[0].structure.copy()
    swap = dict(mapping)
    structure.replace_species({Element(a): Element(b) for a, b in mapping})
    weights = ratios = 0.0
    for a, b, k in _first_shell(name):
        old = atomic_radius(a) + atomic_radius(b)
        new = atomic_radius(swap.get(a, a)) + atomic_radius(swap.get(b, b))
        ratios += k * new / old
        weights += k
    if weights:
        structure.scale_lattice(structure.volume * (ratios / weights) ** 3)
    return structure


def template_generator(config: Any, cursor: int, count: int) -> GeneratedBatch:
    """Candidates ``cursor .. cursor+count`` of :func:`template_plan`."""
    s = config.settings
    plan = template_plan(s.system, tuple(s.prototypes) if s.prototypes else None,
                         s.template_max_atoms)
    batch = []
    for name, mapping in plan[cursor:cursor + count]:
        batch.append(Candidate(substitute(name, mapping), name, dict(mapping), None,
                               "atomic-radii", generator="template"))
    end = cursor + len(batch)
    return GeneratedBatch(batch, end, end >= len(plan))


# --------------------------------------------------------------------------------- pyxtal
def pyxtal_generator(config: Any, cursor: int, count: int) -> GeneratedBatch:
    """The next ``count`` random symmetric crystals (up to 4 attempts per candidate)."""
    from mofgen.crystal.random_structures import random_candidates

    s = config.settings
    found, end, exhausted = random_candidates(
        s.system, config.seed, cursor, count, max_atoms=s.random_max_atoms,
        max_coefficient=s.random_max_coefficient)
    return GeneratedBatch(found, end, exhausted)


# ------------------------------------------------------------------------------- registry
BUILT_IN: dict[str, Generator] = {"template": template_generator,
                                  "substitution": substitution_generator,
                                  "pyxtal": pyxtal_generator}


def _plugin(function: Callable[[Any, int, int], Any]) -> Generator:
    """A plugin may return a :class:`GeneratedBatch` or, older style, a list of candidates
    (position = candidates proposed, ended when a batch comes back short)."""
    def generator(config: Any, cursor: int, count: int) -> GeneratedBatch:
        result = function(config, cursor, count)
        if isinstance(result, GeneratedBatch):
            return result
        batch = list(result)
        return GeneratedBatch(batch, cursor + len(batch), len(batch) < count)

    return generator


def generators() -> dict[str, Generator]:
    """Built-in generators plus those registered under ``mofgen.crystal_generators``."""
    from importlib.metadata import entry_points

    found = dict(BUILT_IN)
    for entry in entry_points(group="mofgen.crystal_generators"):
        found.setdefault(entry.name, _plugin(entry.load()))
    return found


# -------------------------------------------------------------------------------- chains
CHAIN_STRIDE = 10**9  # cursor positions per part of a chain (no sequence is that long)


def chain(parts: list[Generator]) -> Generator:
    """One sequence of several: part k's candidates, then part k+1's from its start."""
    def generator(config: Any, cursor: int, count: int) -> GeneratedBatch:
        part, position = divmod(cursor, CHAIN_STRIDE)
        batch = parts[part](config, position, count)
        if batch.cursor >= CHAIN_STRIDE:
            raise RuntimeError("a chained generator's cursor outgrew the chain stride")
        if batch.exhausted and part + 1 < len(parts):
            return GeneratedBatch(batch.candidates, (part + 1) * CHAIN_STRIDE, False)
        return GeneratedBatch(batch.candidates, part * CHAIN_STRIDE + batch.cursor,
                              batch.exhausted)

    return generator


def generator_for(name: str) -> Generator:
    """The generator called ``name``; ``a+b`` chains registered generators."""
    known = generators()
    names = name.split("+")
    unknown = [n for n in names if n not in known]
    if unknown or not name:
        raise InvalidInput(f"unknown crystal generator {name!r} (known: {', '.join(known)}; "
                           "chain them with +, e.g. template+pyxtal)")
    return known[name] if len(names) == 1 else chain([known[n] for n in names])


def check_generator(settings: Any) -> None:
    """Refuse, at campaign start, a generator or prototype name that does not exist, or a
    generator whose library is not installed."""
    from importlib.util import find_spec

    generator_for(settings.generator)
    parts = settings.generator.split("+")
    needed = ["smact"] + (["pyxtal"] if "pyxtal" in parts else [])
    missing = [name for name in needed if find_spec(name) is None]
    if missing:
        raise InvalidInput(f"crystal campaigns need {' and '.join(missing)}: "
                           "pip install 'mofgen[crystal]'")
    if settings.prototypes and "substitution" in parts:
        from mofgen.crystal.prototypes import prototypes

        prototypes(settings.prototypes)
    elif settings.prototypes and "template" in parts:
        from mofgen.crystal.library import templates

        templates(settings.prototypes)
