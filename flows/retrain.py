"""retrain: fine-tune the generator on the campaign's best structures' linkers (online).

The policy picks the training set (stable structures, later the top adsorbers); this job
fine-tunes the campaign's current generator on their linkers, registers the new version
(parent, training-set ids, hyperparameters, metrics) with its checkpoint in GridFS, and
from then on generate jobs sample from it. Adsorbed members of the set move to
``retrained``; every member records the versions it helped train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mofgen.errors import InvalidInput
from mofgen.flows._stage import StageContext, StageMaker, finish_retrain
from mofgen.flows.generate import current_generator


@dataclass
class RetrainMaker(StageMaker):
    name: str = "retrain"
    epochs: float = 2.0
    max_minutes: float = 10.0

    def run_campaign(self, ctx: StageContext, training_ids: list[str]) -> dict[str, Any]:
        return retrain(ctx, training_ids, self.epochs, self.max_minutes)


def retrain(ctx: StageContext, training_ids: list[str], epochs: float,
            max_minutes: float) -> dict[str, Any]:
    from mofgen import models
    from mofgen.generator.checkpoints import register_generator
    from mofgen.generator.corpus import entry_from_smiles
    from mofgen.generator.training import TrainConfig, finetune

    db, campaign = ctx.db, ctx.campaign
    parent = current_generator(db, campaign)
    entries, seen = [], set()
    for doc in db.structures.find({"_id": {"$in": training_ids}}, {"linkers": 1}):
        for linker in doc.get("linkers", []):
            if linker["smiles"] in seen:
                continue
            seen.add(linker["smiles"])
            try:
                entries.append(entry_from_smiles(linker["smiles"], linker.get("anchor")))
            except InvalidInput:
                continue
    if not entries:
        raise InvalidInput("no linker of the training set could be embedded")
    config = TrainConfig(epochs=epochs, max_minutes=max_minutes)
    model, stats = finetune(models.load(db, "generator", parent), entries, config)
    model.version = None
    version = register_generator(db, model, parent=parent, training_set_ids=training_ids,
                                 hyperparameters={"finetune": stats.get("config", {})},
                                 metrics={k: float(v) for k, v in stats.items()
                                          if isinstance(v, (int, float))},
                                 campaign=campaign).id
    moved = finish_retrain(ctx, training_ids, {"model_version": version})
    return {"campaign": campaign, "parent": parent, "model_version": version,
            "training_structures": len(training_ids), "training_linkers": len(entries),
            "retrained": moved}
