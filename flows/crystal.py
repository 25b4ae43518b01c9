"""The stages of a crystal campaign (exa-AMD's workflow on mofgen's state machine).

* generate — the next candidates of the campaign's generator, stored once
  (:func:`mofgen.crystal.campaign.insert_crystal`);
* validate — a *batch* job: Star-gen's validity checks, de-duplication against everything
  stored before, then one batched CHGNet (or fine-tuned screener) pass; exa-AMD keeps
  candidates whose predicted formation energy is below ``max_formation_energy_eV``;
* simulate — CHGNet relaxation, then the energy above the campaign's convex hull; the
  candidates within ``hull_threshold_eV`` are flagged ``near_hull``;
* retrain — fine-tune the screener on (unrelaxed candidate → relaxed energy) pairs of the
  campaign; the new version is used only if it lowers the held-out error. Crystals skip
  ``adsorbed``: simulated → retrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymatgen.core import Structure

from mofgen.flows._stage import Outcome, StageContext, StageMaker, finish_retrain
from mofgen.records import RELAXED_ENERGY, get_path


# ---------------------------------------------------------------------------- generate
@dataclass
class CrystalGenerateMaker(StageMaker):
    name: str = "generate"

    def run_campaign(self, ctx: StageContext, **params: Any) -> dict[str, Any]:
        return generate_crystals(ctx)


def generate_crystals(ctx: StageContext) -> dict[str, Any]:
    """Store the campaign's next ``candidates_per_batch`` candidates; advance its cursor.

    The cursor (``counters.generator_cursor``, the position in the generator's sequence)
    moves only after the candidates are stored, and only if no other task moved it
    meanwhile, so a task killed half-way proposes the same candidates again and
    de-duplication keeps one copy of each; a restarted campaign continues from it.
    """
    from mofgen.crystal.campaign import insert_crystal
    from mofgen.crystal.generators import generator_for

    db, campaign, settings = ctx.db, ctx.campaign, ctx.config.settings
    counters = (db.campaigns.find_one({"_id": campaign}, {"counters": 1}) or {}).get(
        "counters", {})
    # campaigns from before the cursor existed: their position was the proposed count
    stored_cursor = counters.get("generator_cursor")
    start = int(stored_cursor if stored_cursor is not None
                else counters.get("candidates_proposed", 0))
    batch = generator_for(settings.generator)(ctx.config, start,
                                              settings.candidates_per_batch)
    created = duplicates = 0
    for candidate in batch.candidates:
        _, new = insert_crystal(db, campaign, candidate.structure, candidate.provenance())
        created += new
        duplicates += not new
    update: dict[str, Any] = {
        "$inc": {"counters.candidates_proposed": len(batch.candidates)},
        "$set": {"counters.generator_cursor": batch.cursor}}
    if batch.exhausted:
        update["$set"]["counters.generation_exhausted"] = 1
    db.campaigns.update_one({"_id": campaign,
                             "counters.generator_cursor": stored_cursor}, update)
    return {"campaign": campaign, "start": start, "cursor": batch.cursor,
            "proposed": len(batch.candidates), "created": created,
            "duplicates": duplicates, "exhausted": batch.exhausted}


# ---------------------------------------------------------------------------- validate
@dataclass
class CrystalValidateMaker(StageMaker):
    name: str = "validate"

    def compute_batch(self, docs: list[dict], ctx: StageContext) -> dict[str, Outcome]:
        return validate_crystals(docs, ctx)


def validate_crystals(docs: list[dict], ctx: StageContext) -> dict[str, Outcome]:
    """Validity, de-duplication and the batched energy screen of leased documents.

    Each check is cheap next to the screen and runs per document: Star-gen's validity,
    then a match against the document's de-duplication bucket (its indexed pre-key), then
    the CHGNet graph (built once, here; a structure without one is rejected alone). The
    survivors are screened together in size-sorted batches.
    """
    from mofgen import models
    from mofgen.crystal.campaign import campaign_references, find_stored
    from mofgen.crystal.energy import build_graphs, load_model, screen_graphs
    from mofgen.crystal.validity import check_validity
    from mofgen.errors import InvalidInput

    db, campaign, settings = ctx.db, ctx.campaign, ctx.config.settings
    version = models.current_version(db, "screener", campaign)
    model = models.load(db, "screener", version) if version else load_model()
    outcomes: dict[str, Outcome] = {}
    survivors: list[tuple[dict, Structure, Any]] = []
    for doc in docs:
        structure = Structure.from_dict(doc["structure"])
        validity = check_validity(structure)
        record = {"valid": validity.valid, "checks": validity.as_dict()["checks"]}
        if not validity.valid:
            failed = validity.failures[0]
            outcomes[doc["_id"]] = Outcome(record=record, reject_reason=validity.reason,
                                           value=failed.value, threshold=failed.limit)
            continue
        twin = find_stored(db, structure, doc["identifiers"].get("crystal_key"),
                           created_before=doc["created_at"], exclude=doc["_id"])
        if twin is not None:
            record["duplicate_of"] = twin
            outcomes[doc["_id"]] = Outcome(record=record,
                                           reject_reason=f"duplicate of {twin}")
            continue
        try:
            graph = build_graphs([structure], model, ids=[doc["_id"]])[0]
        except InvalidInput as exc:
            outcomes[doc["_id"]] = Outcome(record=record, reject_reason=str(exc))
            continue
        survivors.append((doc, structure, graph))
    if not survivors:
        return outcomes
    references = campaign_references(db.target, campaign)
    limit = settings.max_formation_energy_eV
    results = screen_graphs([s for _, s, _ in survivors], [g for _, _, g in survivors],
                            settings.screen_batch_size, references, model=model)
    for (doc, _, _), result in zip(survivors, results):
        record = {"valid": True, "energy_per_atom": result.energy_per_atom,
                  "formation_energy_per_atom": result.formation_energy_per_atom,
                  "method": result.method, "screener_version": version}
        if result.passes(limit):
            outcomes[doc["_id"]] = Outcome(record=record,
                                           versions={"screener": result.method})
        else:
            outcomes[doc["_id"]] = Outcome(
                record=record, reject_reason="predicted formation energy above the screen",
                value=result.formation_energy_per_atom, threshold=limit)
    return outcomes


# ---------------------------------------------------------------------------- simulate
@dataclass
class CrystalSimulateMaker(StageMaker):
    name: str = "simulate"
    relax_steps: int = 200
    fmax: float = 0.05  # eV/A
    hull_threshold_eV: float = 0.1

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        from mofgen.crystal.campaign import campaign_references
        from mofgen.crystal.energy import (
            collapse_reason,
            energy_above_hull,
            formation_energy_per_atom,
            relaxation_settings,
        )

        references = campaign_references(ctx.db.target, ctx.campaign)
        result = relaxation_settings(self.relax_steps, self.fmax).run(
            Structure.from_dict(doc["structure"]), ctx.workdir)
        if not result.ok:
            return Outcome(failure=f"CHGNet: {result.reason}")
        final, energy = result.relaxed_structure, result.energy_per_atom_eV
        formation = formation_energy_per_atom(final, energy, references)
        collapsed = collapse_reason(formation)
        if collapsed is not None:
            return Outcome(failure=f"CHGNet: {collapsed}")
        e_hull = energy_above_hull(final, energy, references)
        record = {
            "structure": final.as_dict(),
            "energy_per_atom": energy,
            "formation_energy_per_atom": formation,
            "e_above_hull": e_hull, "near_hull": e_hull <= self.hull_threshold_eV,
            "hull_threshold": self.hull_threshold_eV, "converged": result.converged,
            "relax_steps": result.n_steps, "method": result.method,
        }
        return Outcome(record=record, versions={"chgnet": result.method})


# ---------------------------------------------------------------------------- retrain
@dataclass
class CrystalRetrainMaker(StageMaker):
    name: str = "retrain"

    def run_campaign(self, ctx: StageContext, training_ids: list[str]) -> dict[str, Any]:
        return retrain_screener(ctx, training_ids)


def retrain_screener(ctx: StageContext, training_ids: list[str]) -> dict[str, Any]:
    """Fine-tune the screener on the campaign's relaxed crystals; register the version.

    Inputs are the structures as generated (what the screen sees), targets the relaxed
    CHGNet energies (what the screen should predict). Members in ``simulated`` move to
    ``retrained``; all record the version they trained.
    """
    from mofgen import models
    from mofgen.crystal.screener import finetune_screener, register_screener

    db, campaign, config = ctx.db, ctx.campaign, ctx.config
    docs = list(db.structures.find(
        {"_id": {"$in": training_ids}, RELAXED_ENERGY: {"$ne": None}},
        {"structure": 1, RELAXED_ENERGY: 1}).sort("_id", 1))
    parent = models.current_version(db, "screener", campaign)
    model, report = finetune_screener(
        [Structure.from_dict(d["structure"]) for d in docs],
        [get_path(d, RELAXED_ENERGY) for d in docs], ids=[d["_id"] for d in docs],
        base=models.load(db, "screener", parent) if parent else None,
        epochs=config.settings.retrain_epochs,
        held_out_fraction=config.settings.held_out_fraction, seed=config.seed)
    ids = [d["_id"] for d in docs]
    version = register_screener(db, model, parent, ids, report, campaign)
    moved = finish_retrain(ctx, ids, {"model_version": version,
                                          "promoted": report.improved})
    return {"campaign": campaign, "parent": parent, "model_version": version,
            "retrained": moved, **report.as_dict()}
