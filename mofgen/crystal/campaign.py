"""Crystal campaigns on the campaign engine: candidate sources, storage once, the hull.

* **Generators** are a pluggable slot: a name in the campaign config
  (``crystal.generator``) maps to a function ``(config, start, count) -> [Candidate]``
  that returns the next ``count`` candidates of a deterministic sequence, so a generate
  task that re-runs after a crash proposes the same structures again (and de-duplication
  stores them once). ``substitution`` (pymatgen's data-mined substitution over the shipped
  prototypes) is built in; packages add more through the ``mofgen.crystal_generators``
  entry-point group.
* **Storing once**: :func:`insert_crystal` files a structure under its pre-key
  (``identifiers.crystal_key`` = reduced formula + space group, indexed) and runs
  ``StructureMatcher`` only against that bucket, across every campaign of the database;
  a rotated, translated or supercell copy of a stored structure is not stored again.
* **References**: the hull a campaign measures against is relaxed once with the campaign's
  method and kept in the campaign document, so every later number uses the same hull.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pymatgen.core import Structure

from mofgen.crystal.dedup import find_duplicate, prekey
from mofgen.crystal.generate import Candidate
from mofgen.documents import CampaignConfig, StructureDoc, utcnow
from mofgen.errors import InvalidInput
from mofgen.states import StateMachine, default_worker_id

Generator = Callable[[CampaignConfig, int, int], list[Candidate]]


# ------------------------------------------------------------------------- generators
@lru_cache(maxsize=8)
def _substitution_candidates(system: str, prototypes: tuple[str, ...] | None,
                             threshold: float) -> tuple[Candidate, ...]:
    from mofgen.crystal.generate import candidates
    from mofgen.crystal.prototypes import prototypes as shipped

    protos = shipped(list(prototypes)) if prototypes is not None else None
    return tuple(candidates(system, protos, threshold=threshold))


def substitution_generator(config: CampaignConfig, start: int, count: int) -> list[Candidate]:
    """Candidates ``start .. start+count`` of the ranked substitution list (exa-AMD step 1)."""
    settings = config.settings
    ranked = _substitution_candidates(
        config.settings.system, tuple(settings.prototypes) if settings.prototypes else None,
        settings.substitution_threshold)
    return list(ranked[start:start + count])


def generators() -> dict[str, Generator]:
    """Built-in generators plus those registered under ``mofgen.crystal_generators``."""
    from importlib.metadata import entry_points

    found: dict[str, Generator] = {"substitution": substitution_generator}
    for entry in entry_points(group="mofgen.crystal_generators"):
        found.setdefault(entry.name, entry.load())
    return found


def generator_for(name: str) -> Generator:
    known = generators()
    if name not in known:
        raise InvalidInput(f"unknown crystal generator {name!r} (known: {', '.join(known)})")
    return known[name]


def check_config(config: CampaignConfig) -> None:
    """Fail at campaign start, not inside a worker, on what the config names."""
    from mofgen.crystal.prototypes import prototypes, reference_phases

    generator_for(config.settings.generator)
    if config.settings.prototypes:
        prototypes(config.settings.prototypes)
    reference_phases(config.settings.system)


# ------------------------------------------------------------------------ store once
def _plain(structure: Structure) -> Structure:
    """Stored structures carry elements; oxidation states stay in ``origin``."""
    plain = structure.copy()
    if any(hasattr(sp, "oxi_state") for sp in plain.species):
        plain.remove_oxidation_states()
    return plain


def find_stored(db, structure: Structure, key: str | None = None,
                created_before: Any = None, exclude: str | None = None) -> str | None:
    """Id of a stored crystal (any campaign) that matches ``structure``, else None."""
    key = key or prekey(structure)
    query: dict[str, Any] = {"kind": "crystal", "identifiers.crystal_key": key}
    if created_before is not None:
        query["created_at"] = {"$lt": created_before}
    if exclude is not None:
        query["_id"] = {"$ne": exclude}
    bucket = list(db.structures.find(query, {"structure": 1}).sort("created_at", 1))
    if not bucket:
        return None
    index = find_duplicate(structure, [Structure.from_dict(d["structure"]) for d in bucket])
    return None if index is None else bucket[index]["_id"]


def insert_crystal(db, campaign: str, structure: Structure,
                   origin: dict[str, Any] | None = None) -> tuple[str, bool]:
    """Store ``structure`` as a ``generated`` crystal unless it is already stored.

    Returns ``(id, created)``; a match in another campaign is noted in its ``also_in``.
    """
    if not isinstance(structure, Structure) or len(structure) == 0:
        raise InvalidInput("expected a non-empty pymatgen Structure")
    if not structure.is_ordered:
        raise InvalidInput("disordered structure (partial occupancies): order it first")
    plain = _plain(structure)
    key = prekey(plain)
    existing = find_stored(db, plain, key)
    if existing is not None:
        db.structures.update_one({"_id": existing, "campaign": {"$ne": campaign}},
                                 {"$addToSet": {"also_in": campaign}})
        return existing, False
    doc = StructureDoc.from_structure(
        plain, campaign, kind="crystal", origin=origin or {},
        identifiers={"formula": plain.composition.reduced_formula, "crystal_key": key})
    created = StateMachine(db.structures, default_worker_id(), kind="crystal").create(doc)
    return doc.id, bool(created)


# ------------------------------------------------------------------------- references
def ensure_references(db, campaign: str, config: CampaignConfig, say=None):
    """The campaign's hull (:class:`References`), relaxed and stored on first use."""
    from mofgen.crystal.energy import References, build_references
    from mofgen.crystal.prototypes import reference_phases

    stored = _stored_references(db, campaign)
    if stored:
        return References.from_dict(stored)
    phases = reference_phases(config.settings.system)
    if say:
        say(f"relaxing {len(phases)} reference phases of {config.settings.system} with CHGNet "
            "(once per campaign)")
    refs = build_references(phases, steps=config.settings.reference_relax_steps)
    # first writer wins: a concurrent builder's copy is discarded, not mixed
    db.campaigns.update_one({"_id": campaign, "references": None},
                            {"$set": {"references": refs.as_dict(), "updated_at": utcnow()}})
    return References.from_dict(_stored_references(db, campaign))


def _stored_references(db, campaign: str) -> dict[str, Any] | None:
    doc = db.campaigns.find_one({"_id": campaign}, {"references": 1}) or {}
    return doc.get("references")


@lru_cache(maxsize=8)
def _references_cached(target: str, campaign: str):
    from mofgen.crystal.energy import References
    from mofgen.stores.connection import connect

    db = connect(target)
    try:
        stored = _stored_references(db, campaign)
    finally:
        db.close()
    if not stored:
        raise InvalidInput(f"campaign {campaign!r} has no reference phases yet "
                           "(the daemon builds them when the campaign starts)")
    return References.from_dict(stored)


def campaign_references(db_target: str, campaign: str):
    """References of a campaign for workers (read once per process; they never change)."""
    return _references_cached(db_target, campaign)
