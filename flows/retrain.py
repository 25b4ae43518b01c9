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

from jobflow import Maker, job

from mofgen.errors import IllegalTransition, InvalidInput
from mofgen.flows.generate import current_generator
from mofgen.states import StateMachine, default_worker_id
from mofgen.stores.connection import connect


@dataclass
class RetrainMaker(Maker):
    name: str = "retrain"
    epochs: float = 2.0
    max_minutes: float = 10.0

    @job
    def make(self, campaign: str, db: str, training_ids: list[str]) -> dict:
        return retrain(campaign, db, training_ids, self.epochs, self.max_minutes)


def retrain(campaign: str, db_target: str, training_ids: list[str], epochs: float,
            max_minutes: float) -> dict[str, Any]:
    from mofgen.generator.corpus import entry_from_smiles
    from mofgen.generator.registry import load_version, register
    from mofgen.generator.training import TrainConfig, finetune

    db = connect(db_target)
    try:
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
        model, stats = finetune(load_version(db, parent), entries, config)
        model.version = None
        version = register(db, model, parent=parent, training_set_ids=training_ids,
                           hyperparameters={"finetune": stats.get("config", {})},
                           metrics={k: float(v) for k, v in stats.items()
                                    if isinstance(v, (int, float))},
                           campaign=campaign).id
        machine = StateMachine(db.structures, worker=default_worker_id())
        moved = 0
        for doc_id in training_ids:
            try:
                machine.transition(doc_id, "adsorbed", "retrained",
                                   set_fields={"retrain": {"model_version": version}})
                moved += 1
            except IllegalTransition:
                pass  # not adsorbed (a stable structure): it keeps its state
        db.structures.update_many({"_id": {"$in": training_ids}},
                                  {"$addToSet": {"retrain_versions": version}})
        return {"campaign": campaign, "parent": parent, "model_version": version,
                "training_structures": len(training_ids), "training_linkers": len(entries),
                "retrained": moved}
    finally:
        db.close()
