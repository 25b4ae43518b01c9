"""Crystal campaigns on the campaign engine: candidate sources, storage once, the hull.

* **Generators** are a pluggable slot (:mod:`mofgen.crystal.generators`): a name in the
  campaign config (``crystal.generator``) maps to a resumable, deterministic sequence whose
  cursor the campaign stores, so a restarted campaign continues and a generate task that
  re-runs after a crash proposes the same structures again (de-duplication stores them
  once).
* **Storing once**: :func:`insert_crystal` files a structure under its pre-key
  (``identifiers.crystal_key`` = reduced formula + space group, indexed) and runs
  ``StructureMatcher`` only against that bucket, across every campaign of the database;
  a rotated, translated or supercell copy of a stored structure is not stored again.
* **References**: the hull a campaign measures against (:mod:`mofgen.crystal.references`)
  is relaxed once with the campaign's method and kept in the campaign document, so every
  later number uses the same hull.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pymatgen.core import Structure

from mofgen.crystal.dedup import find_duplicate, prekey
from mofgen.crystal.generators import generator_for, generators  # noqa: F401 - re-exported
from mofgen.documents import CampaignConfig, StructureDoc, utcnow
from mofgen.errors import InvalidInput
from mofgen.states import StateMachine, default_worker_id


# ------------------------------------------------------------------------- generators
def check_config(config: CampaignConfig) -> None:
    """Fail at campaign start, not inside a worker, on what the config names."""
    from mofgen.crystal.generators import check_generator
    from mofgen.crystal.references import check_references_file

    check_generator(config.settings)
    check_references_file(config.settings)


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
    from mofgen.crystal.energy import References
    from mofgen.crystal.references import campaign_references as build

    stored = _stored_references(db, campaign)
    if stored:
        return References.from_dict(stored)
    refs = build(config.settings, say=say)
    if say:
        counts = refs.meta.get("counts", {})
        say(f"hull of {config.settings.system}: {len(refs.entries)} CHGNet-relaxed reference "
            f"phase(s) {counts} in {refs.meta.get('build_seconds')} s")
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
