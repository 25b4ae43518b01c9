"""Generator training: registry round trip, clear errors, fine-tuning shifts what is generated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mofgen import models
from mofgen.documents import ModelVersionDoc
from mofgen.errors import InvalidInput, NotFound
from mofgen.generator import checkpoints
from mofgen.generator.corpus import entries_from_smiles
from mofgen.generator.linker_list import expand
from mofgen.generator.sampling import generate
from mofgen.generator.training import TrainConfig, finetune, pretrain

torch.set_num_threads(1)


def _n_fraction(model, seed: int = 5) -> float:
    """Share of N among the generated (non-prompt) atoms of 48 raw COO samples."""
    atoms = [s for batch in generate(model, 48, "COO", seed=seed, steps=40, process=False)
             for item in batch for s in item.symbols[6:]]
    return atoms.count("N") / len(atoms)


def test_finetuning_on_nitrogen_rich_linkers_shifts_generation_towards_nitrogen():
    """The mechanism online learning relies on: fine-tune on a biased set, samples follow."""
    rich = [c.smiles for c in expand(0) if c.anchor == "COO"
            and sum(ch in "nN" for ch in c.smiles.replace("[N+]", "")) >= 3][:40]
    entries, _ = entries_from_smiles(rich)
    linker_atoms = [s for e in entries for s in e.symbols[e.n_fragment:]]
    assert len(entries) >= 30 and linker_atoms.count("N") / len(linker_atoms) > 0.2
    parent = checkpoints.shipped_model()
    before = _n_fraction(parent)
    child, stats = finetune(parent, entries, TrainConfig(epochs=25, batch_size=16, lr=1e-3))
    after = _n_fraction(child)
    assert stats["steps"] >= 50 and stats["seconds_per_100_molecules"] > 0
    assert after > before + 0.05, (before, after)


def test_register_load_and_errors(db):
    parent = checkpoints.shipped_model()
    shipped_id = checkpoints.ensure_shipped(db)
    assert shipped_id == checkpoints.shipped_version() == parent.version
    entries, dropped = entries_from_smiles(["OC(=O)c1ccc(cc1)C(=O)O", "N#Cc1ccc(C#N)cc1",
                                            "not-a-smiles"])
    assert dropped == ["not-a-smiles"]
    model, stats = pretrain(entries, TrainConfig(epochs=2, batch_size=2),
                            {"hidden": 16, "layers": 2})
    doc = checkpoints.register_generator(db, model, parent=shipped_id,
                                         training_set_ids=["a", "b"],
                                         hyperparameters={"train": stats["config"]},
                                         metrics={"x": 1.0})
    stored = ModelVersionDoc.from_mongo(db.models.find_one({"_id": doc.id}))
    assert stored.parent == shipped_id and stored.training_set_ids == ["a", "b"]
    assert stored.hyperparameters["hidden"] == 16 and stored.metrics == {"x": 1.0}
    assert models.latest_version(db, "generator") == doc.id
    loaded = models.load(db, "generator", doc.id)
    assert loaded.version == doc.id and loaded.anchors() == ["COO", "cyano"]
    for a, b in zip(loaded.network.state_dict().values(), model.network.state_dict().values()):
        assert torch.allclose(a, b.half().float())
    with pytest.raises(NotFound, match="generator version nope not found"):
        models.load(db, "generator", "nope")
    bad = ModelVersionDoc(_id="gen-bad", checkpoint_file_id=db.gridfs().put(b"\x00garbage"))
    db.models.insert_one(bad.to_mongo())
    with pytest.raises(InvalidInput, match="corrupt or incompatible generator checkpoint"):
        models.load(db, "generator", "gen-bad")
    sample = next(generate(loaded, 2, "cyano", steps=5))
    assert all(item.model_version == doc.id for item in sample)
    assert np.asarray(sample[0].coords).shape == (len(sample[0].symbols), 3)


def test_oversampling_an_anchor_kind_repeats_its_molecules_each_epoch():
    entries, _ = entries_from_smiles(["OC(=O)c1ccc(cc1)C(=O)O", "N#Cc1ccc(C#N)cc1"])
    plain = pretrain(entries, TrainConfig(epochs=1, batch_size=1), {"hidden": 8, "layers": 1})[1]
    heavy = pretrain(entries, TrainConfig(epochs=1, batch_size=1, oversample={"cyano": 3}),
                     {"hidden": 8, "layers": 1})[1]
    assert (plain["molecules"], plain["steps"]) == (2, 2)
    assert (heavy["molecules"], heavy["steps"]) == (4, 4)  # 1 COO + 3 x the nitrile
    assert heavy["config"]["oversample"] == {"cyano": 3}
    with pytest.raises(InvalidInput):
        TrainConfig(oversample={"cyano": 0}).check()
