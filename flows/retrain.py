"""retrain: fine-tune the generator on what the campaign found, and keep it healthy (online).

The policy picks the training set (stable structures, later the top adsorbers). This job

1. collects the set's linkers as training examples from their own geometry — the processed
   linker as placed in the MOF, kept with the linker document when it was generated (no
   re-embedding from SMILES, which can fail); linkers that cannot be used are counted with
   their reason;
2. mixes in examples replayed from the pretraining corpus (``replay_fraction`` of the
   set), so a few campaign linkers do not make the model forget chemistry;
3. fine-tunes the campaign's current generator and measures the new version on
   ``registration_samples`` samples per anchor (validity, uniqueness, novelty, anchor
   retention, linker size, similarity to the training set);
4. registers it, **promoted** for generation only if its validity is at least
   ``min_validity`` and no more than ``max_validity_drop`` below its parent's for every
   anchor; otherwise generation stays on the parent and the version says why.

Adsorbed members of the set move to ``retrained``; every member records the version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mofgen.errors import InvalidInput
from mofgen.flows._stage import StageContext, StageMaker, finish_retrain
from mofgen.flows.generate import current_generator
from mofgen.records import STRAIN, get_path


@dataclass
class RetrainMaker(StageMaker):
    name: str = "retrain"
    steps: int = 300  # gradient steps of fine-tuning (batches of 32)
    max_minutes: float = 10.0
    lr: float = 5e-4
    replay_fraction: float = 0.5  # share of the fine-tuning set replayed from the corpus
    min_examples: int = 64  # replay tops a smaller set up to this many examples
    registration_samples: int = 64  # per anchor, to measure a new version
    diffusion_steps: int = 100
    min_validity: float = 0.30
    max_validity_drop: float = 0.10
    # improvements measured by benchmarks/bench_discovery.py (README "Does learning help?")
    weighting: str = "none"  # "strain": the most stable linkers repeated up to 4 times
    prompts_from: str = "all"  # "campaign": prompts and size rule from the campaign's linkers
    seed: int = 0

    def run_campaign(self, ctx: StageContext, training_ids: list[str]) -> dict[str, Any]:
        return retrain(ctx, training_ids, self)


def retrain(ctx: StageContext, training_ids: list[str], maker: RetrainMaker) -> dict[str, Any]:
    from mofgen import models
    from mofgen.generator.checkpoints import register_generator
    from mofgen.generator.corpus import replay_entries
    from mofgen.generator.training import TrainConfig, finetune

    db, campaign = ctx.db, ctx.campaign
    parent = current_generator(db, campaign)
    entries, unusable = training_examples(db, training_ids, maker.weighting)
    if not entries:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(unusable.items())) or "no linkers"
        raise InvalidInput(f"no linker of the training set is a usable example ({reasons})")
    n_replay = replay_count(len(entries), maker.replay_fraction, maker.min_examples)
    replay = replay_entries(n_replay, seed=maker.seed + len(training_ids)) if n_replay else []
    batch_size = 32
    epochs = maker.steps / math.ceil((len(entries) + len(replay)) / batch_size)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, max_minutes=maker.max_minutes,
                         lr=maker.lr, seed=maker.seed)
    model, stats = finetune(models.load(db, "generator", parent), entries + replay, config,
                            prompt_entries=entries if maker.prompts_from == "campaign" else None)
    model.version = None
    quality = registration_metrics(model, maker, [e.smiles for e in entries])
    parent_quality = parent_metrics(db, parent, maker)
    promoted, verdict = promotion(quality, parent_quality, maker)
    metrics = {k: float(v) for k, v in stats.items() if isinstance(v, (int, float))}
    metrics.update(quality)
    metrics.update({"promoted": float(promoted), "training_examples": len(entries),
                    "distinct_training_linkers": len({e.name for e in entries}),
                    "replay_examples": len(replay), "unusable_linkers": sum(unusable.values())})
    version = register_generator(
        db, model, parent=parent, training_set_ids=training_ids, campaign=campaign,
        hyperparameters={"finetune": stats.get("config", {}),
                         "replay_fraction": maker.replay_fraction,
                         "weighting": maker.weighting, "prompts_from": maker.prompts_from,
                         "promotion": verdict, "unusable": unusable},
        metrics=metrics).id
    moved = finish_retrain(ctx, training_ids, {"model_version": version, "promoted": promoted})
    return {"campaign": campaign, "parent": parent, "model_version": version,
            "promoted": promoted, "verdict": verdict, "training_structures": len(training_ids),
            "training_examples": len(entries), "replay_examples": len(replay),
            "unusable": unusable, "retrained": moved}


def replay_count(n_campaign: int, fraction: float, min_examples: int = 0) -> int:
    """Replayed examples so that they are ``fraction`` of the whole fine-tuning set, and
    the set has at least ``min_examples`` (a few campaign linkers alone would be learnt
    by heart, and pull the prompts and sizes the model proposes towards themselves)."""
    share = int(round(n_campaign * fraction / (1.0 - fraction))) if fraction > 0 else 0
    return max(share, min_examples - n_campaign, 0) if fraction > 0 else 0


def training_examples(db, training_ids: list[str], weighting: str = "none"
                      ) -> tuple[list, dict[str, int]]:
    """The training set's distinct linkers as examples, and how many linkers could not be
    one, by reason. With ``weighting="strain"`` the examples are ranked by the lowest
    strain of a MOF they are in and repeated 4, 3, 2 or 1 times by quartile of that rank,
    so the most stable chemistry weighs most in fine-tuning."""
    from mofgen.generator.corpus import CorpusEntry

    if weighting not in ("none", "strain"):
        raise InvalidInput(f"retrain weighting {weighting!r}: must be 'none' or 'strain'")
    unusable: dict[str, int] = {}

    def skip(reason: str) -> None:
        unusable[reason] = unusable.get(reason, 0) + 1

    wanted: dict[str, str] = {}  # linker id -> smiles, one per distinct linker
    strain: dict[str, float] = {}  # linker id -> lowest strain of a MOF it is in
    for doc in db.structures.find({"_id": {"$in": training_ids}},
                                  {"linkers": 1, STRAIN: 1}):
        doc_strain = get_path(doc, STRAIN)
        for ref in doc.get("linkers", []):
            linker_id = ref.get("linker_id")
            if linker_id and doc_strain is not None:
                strain[linker_id] = min(strain.get(linker_id, math.inf), doc_strain)
            if ref.get("smiles") in wanted.values():
                continue
            if linker_id:
                wanted[linker_id] = ref.get("smiles")
            else:
                skip("no generated linker recorded")
    found = {d["_id"]: d for d in db.linkers.find(
        {"_id": {"$in": sorted(wanted)}},
        {"training_entry": 1, "training_rejection": 1, "smiles": 1, "anchor": 1})}
    entries = []
    for linker_id in sorted(wanted):
        linker = found.get(linker_id)
        entry = (linker or {}).get("training_entry")
        if linker is None:
            skip("linker document missing")
        elif not entry:
            skip((linker.get("training_rejection") or "no training geometry").split(":")[0])
        else:
            entries.append(CorpusEntry(smiles=linker["smiles"], name=linker_id,
                                       anchor=linker["anchor"], symbols=entry["symbols"],
                                       coords=entry["coords"], n_fragment=entry["n_fragment"]))
    if weighting == "strain" and entries:
        entries.sort(key=lambda e: (strain.get(e.name, math.inf), e.name))
        entries = [e for rank, e in enumerate(entries)
                   for _ in range(4 - (4 * rank) // len(entries))]
    return entries, unusable


def registration_metrics(model, maker: RetrainMaker, training_smiles: list[str]
                         ) -> dict[str, float]:
    """Quality of a version from ``registration_samples`` samples per anchor."""
    from mofgen.generator.metrics import evaluate

    return evaluate(model, n=maker.registration_samples, seed=maker.seed,
                    steps=maker.diffusion_steps, reference=training_smiles)


def parent_metrics(db, parent: str, maker: RetrainMaker) -> dict[str, float]:
    """The parent's registration metrics, measured the same way (and stored) if missing."""
    from mofgen import models

    doc = models.get_version(db, parent, "generator")
    anchors = models.load(db, "generator", parent).anchors()
    if all(f"{a}_validity" in doc.metrics for a in anchors):
        return doc.metrics
    quality = registration_metrics(models.load(db, "generator", parent), maker, [])
    models.update_metrics(db, parent, quality)
    return quality


def promotion(quality: dict[str, float], parent: dict[str, float], maker: RetrainMaker
              ) -> tuple[bool, str]:
    """Promote only a version whose validity is at least ``min_validity`` and within
    ``max_validity_drop`` of its parent's, for every anchor kind; the verdict says why."""
    anchors = sorted(k.removesuffix("_validity") for k in quality if k.endswith("_validity"))
    problems = []
    for anchor in anchors:
        mine = quality[f"{anchor}_validity"]
        theirs = parent.get(f"{anchor}_validity")
        if mine < maker.min_validity:
            problems.append(f"{anchor} validity {mine:.0%} < {maker.min_validity:.0%}")
        elif theirs is not None and mine < theirs - maker.max_validity_drop:
            problems.append(f"{anchor} validity {mine:.0%} is more than "
                            f"{maker.max_validity_drop:.0%} below the parent's {theirs:.0%}")
    if problems:
        return False, "not promoted: " + "; ".join(problems)
    summary = ", ".join(f"{a} validity {quality[f'{a}_validity']:.0%}" for a in anchors)
    return True, f"promoted: {summary}"
