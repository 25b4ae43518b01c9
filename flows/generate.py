"""generate: sample linkers, process them, assemble pillared paddle-wheel MOFs, screen.

As in MOFA (§III-B), each MOF is four copies of one generated carboxylate (COO) linker
around Zn paddle-wheels, pillared by a generated N-donor (cyano) linker, on the pcu net.
Linkers are stored with their fate; MOFs that pass the geometric screen become ``generated``
documents, stored once (the id is the structure hash) even when generated again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mofgen.documents import LinkerRef, StructureDoc
from mofgen.errors import InvalidInput
from mofgen.flows._stage import StageContext, StageMaker, store_once

NODE = "zn_paddlewheel"


def current_generator(db, campaign: str) -> str:
    """The newest generator this campaign trained, else the shipped one (registered)."""
    from mofgen import models
    from mofgen.generator.checkpoints import ensure_shipped

    return models.current_version(db, "generator", campaign) or ensure_shipped(db)


@dataclass
class GenerateMaker(StageMaker):
    name: str = "generate"
    n_linkers: int = 16
    diffusion_steps: int = 100
    seed: int = 0

    def run_campaign(self, ctx: StageContext, **params: Any) -> dict[str, Any]:
        return generate_structures(ctx, self.n_linkers, self.diffusion_steps,
                                   base_seed=self.seed, **params)


def generate_structures(ctx: StageContext, n_linkers: int, steps: int,
                        seed: int | None = None, base_seed: int = 0) -> dict[str, Any]:
    """One generate task. Without ``seed``, it follows from the campaign's seed and how many
    linkers the campaign has sampled so far, so a campaign's samples are reproducible."""
    from mofgen import models
    from mofgen.chemistry import assemble_mof, screen_structure, structure_hash
    from mofgen.generator.sampling import generate

    db, campaign = ctx.db, ctx.campaign
    if seed is None:
        sampled = db.linkers.count_documents({"campaign": campaign})
        seed = (base_seed * 1_000_003 + sampled) % 2**31
    version = current_generator(db, campaign)
    model = models.load(db, "generator", version)
    carboxylates = [g for batch in generate(model, n_linkers, "COO", seed, steps)
                    for g in batch]
    pillars = [g for batch in generate(model, max(2, n_linkers // 2), "cyano", seed + 1,
                                       steps) for g in batch]
    linker_ids = {}
    for item in carboxylates + pillars:
        doc = item.to_linker_doc(campaign)
        linker_ids[id(item)] = doc.id
        db.linkers.update_one({"_id": doc.id}, {"$setOnInsert": doc.to_mongo()},
                              upsert=True)
    good_pillars = [g for g in pillars if g.valid]
    rng = random.Random(seed)
    counts = {"sampled": len(carboxylates) + len(pillars),
              "valid": sum(g.valid for g in carboxylates + pillars),
              "assembled": 0, "passed_screen": 0, "created": 0, "duplicates": 0}
    for linker in (g for g in carboxylates if g.valid and good_pillars):
        pillar = rng.choice(good_pillars)
        try:
            mof = assemble_mof([linker.processed_linker()],
                               pillar=pillar.processed_linker(), node=NODE)
        except InvalidInput as exc:
            _fate(db, linker_ids[id(linker)], f"rejected:assembly:{exc}"[:200])
            continue
        counts["assembled"] += 1
        screen = screen_structure(mof.structure)
        if not screen.passed:
            _fate(db, linker_ids[id(linker)], f"rejected:screen:{screen.reason}"[:200])
            continue
        counts["passed_screen"] += 1
        key = structure_hash(mof.structure)
        doc = StructureDoc.from_structure(
            mof.structure, campaign, doc_id=f"mof-{key[:16]}", node=NODE,
            linkers=[LinkerRef(smiles=g.smiles, anchor=g.anchor, model_version=version,
                               linker_id=linker_ids[id(g)]) for g in (linker, pillar)],
            identifiers={"formula": mof.structure.composition.reduced_formula,
                         "linker_smiles": [linker.smiles, pillar.smiles],
                         "structure_hash": key},
        )
        if store_once(ctx, doc):
            counts["created"] += 1
        else:
            counts["duplicates"] += 1
        for g in (linker, pillar):
            db.linkers.update_one({"_id": linker_ids[id(g)]},
                                  {"$set": {"fate": "used"}, "$addToSet": {
                                      "structure_ids": doc.id}})
    return {"campaign": campaign, "model_version": version, **counts}


def _fate(db, linker_id: str, fate: str) -> None:
    db.linkers.update_one({"_id": linker_id}, {"$set": {"fate": fate}})
