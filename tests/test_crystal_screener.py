"""The screening model: fine-tuned CHGNet, its checkpoint bytes and its registry, for real.

The learning test gives CHGNet a target it cannot already predict — its own energy minus
0.15 eV/atom, the kind of systematic lowering relaxation brings — so the held-out MAE
starts at exactly 0.15 eV/atom and must fall below half of that on structures the model
never trained on. A fine-tuning that does nothing, or that only memorises the training
structures, fails it.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from mofgen import models
from mofgen.crystal import energy, screener
from mofgen.crystal.generate import candidates
from mofgen.crystal.prototypes import reference_phases
from mofgen.documents import ModelVersionDoc
from mofgen.errors import InvalidInput, NotFound

torch.set_num_threads(1)

SHIFT = -0.15  # eV/atom, relaxed minus unrelaxed
EPOCHS = 30


def _rattled(structure, seed: int, sigma: float = 0.05):
    rattled = structure.copy()
    shifts = np.random.default_rng(seed).normal(0.0, sigma, (len(rattled), 3))
    for i, shift in enumerate(shifts):
        rattled.translate_sites([i], shift, frac_coords=False)
    return rattled


@pytest.fixture(scope="module")
def data():
    """12 small Li-Fe-O structures (1-14 atoms) and their shifted CHGNet energies."""
    phases = {p.name: p.structure for p in reference_phases("Li-Fe-O")
              if p.name not in {"LiFe5O8", "O2 (molecule)"}}
    strained = phases["Fe2O3"].copy()
    strained.apply_strain(0.04)
    structures = [*phases.values(), strained, _rattled(phases["Fe3O4"], seed=0)]
    structures += [c.structure for c in candidates("Li-Fe-O", max_candidates=3)]
    ids = [f"s{i}" for i in range(len(structures))]
    base_energies = energy.predict_energies(structures)
    return structures, base_energies + SHIFT, ids, base_energies


@pytest.fixture(scope="module")
def tuned(data):
    structures, targets, ids, _ = data
    return screener.finetune_screener(structures, targets, ids, epochs=EPOCHS)


def test_finetuning_learns_a_systematic_shift(data, tuned):
    structures, targets, ids, base_energies = data
    model, report = tuned
    assert report.n_train + report.n_held_out == len(structures) == 12
    assert report.n_held_out == 3 and set(report.held_out_ids) <= set(ids)
    assert report.mae_before_eV_per_atom == pytest.approx(abs(SHIFT), abs=1e-5)
    assert report.mae_after_eV_per_atom < 0.5 * report.mae_before_eV_per_atom
    assert report.improved and report.epochs == EPOCHS and report.seconds > 0
    assert report.base_method == "chgnet-0.3.0"
    held = [ids.index(i) for i in report.held_out_ids]
    predicted = energy.predict_energies([structures[i] for i in held], model=model)
    assert np.abs(predicted - targets[held]).mean() == pytest.approx(
        report.mae_after_eV_per_atom, abs=1e-6)
    print(f"held-out MAE {report.mae_before_eV_per_atom:.4f} -> "
          f"{report.mae_after_eV_per_atom:.4f} eV/atom in {report.seconds:.2f} s")


def test_only_the_readout_changes_and_the_shipped_model_is_untouched(data, tuned):
    structures, _, _, base_energies = data
    model, _ = tuned
    shipped = energy.load_model()
    assert np.array_equal(energy.predict_energies(structures), base_energies)
    assert energy.method_label(shipped) == "chgnet-0.3.0"
    assert energy.method_label(model) == "chgnet-0.3.0+ft"
    before, after = shipped.state_dict(), model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("mlp.", "composition_model.")) for k in changed)
    assert all(p.requires_grad for p in model.mlp.parameters())  # CHGNet's own flags back


def test_readout_on_cached_features_matches_chgnet(data):
    """The training loop's shortcut computes exactly what CHGNet's forward pass does."""
    structures, _, ids, base_energies = data
    model = copy.deepcopy(energy.load_model())
    graphs = screener._graphs(model, structures, ids)
    with torch.no_grad():
        head = screener._readout(model, screener._readout_inputs(model, graphs), graphs)
    np.testing.assert_allclose(head.numpy(), base_energies, atol=1e-5)


def test_same_seed_same_split_and_same_model(data):
    structures, targets, ids, _ = data
    runs = [screener.finetune_screener(structures, targets, ids, epochs=3, seed=seed)
            for seed in (7, 7, 8)]
    (m1, r1), (m2, r2), (_, r3) = runs
    assert r1.held_out_ids == r2.held_out_ids != r3.held_out_ids
    assert r1.held_out_ids == [ids[i] for i in screener._split(ids, 0.25, 7)[1]]
    assert r1.mae_after_eV_per_atom == r2.mae_after_eV_per_atom
    assert np.array_equal(energy.predict_energies(structures, model=m1),
                          energy.predict_energies(structures, model=m2))


def test_split_keeps_each_id_on_its_side_as_the_data_grow():
    """So a child's held-out structures were never in its parent's training set."""
    ids = [f"mof-{i}" for i in range(40)]
    train, held = screener._split(ids[:20], 0.25, seed=3)
    train_all, held_all = screener._split(ids, 0.25, seed=3)
    assert held and train and not set(train) & set(held)
    assert set(held) == set(held_all) & set(range(20))
    assert 4 <= len(held_all) <= 16  # about a quarter
    assert screener._split(["a", "b"], 0.01, 0) in (([0], [1]), ([1], [0]))
    assert screener._split(["a", "b"], 0.99, 0) in (([0], [1]), ([1], [0]))


def test_bytes_round_trip_gives_identical_predictions(data, tuned):
    structures, *_ = data
    model, _ = tuned
    restored = screener.screener_from_bytes(screener.screener_to_bytes(model))
    assert np.array_equal(energy.predict_energies(structures, model=restored),
                          energy.predict_energies(structures, model=model))
    assert energy.method_label(restored) == energy.method_label(model)


@pytest.mark.parametrize("blob", [b"", b"not a checkpoint", "truncated", "foreign"])
def test_corrupt_bytes_are_invalid_input(tuned, blob):
    if blob == "truncated":
        blob = screener.screener_to_bytes(tuned[0])[:5000]
    elif blob == "foreign":
        blob = screener.screener_to_bytes(tuned[0]).replace(b"mofgen-screener/1",
                                                            b"mofgen-screener/9")
    with pytest.raises(InvalidInput, match="screener checkpoint is unreadable") as err:
        screener.screener_from_bytes(blob)
    assert "\n" not in str(err.value)


def test_registry_round_trip_and_current_version(db, data, tuned):
    structures, _, ids, _ = data
    model, report = tuned
    assert models.current_version(db, "screener", "c1") is None  # nothing yet: shipped CHGNet
    worse = dataclasses.replace(report, improved=False,
                                mae_after_eV_per_atom=2 * report.mae_before_eV_per_atom)

    def register(report_, campaign, parent=None):
        return screener.register_screener(db, copy.deepcopy(model), parent, ids, report_,
                                          campaign)

    first = register(report, "c1")
    assert first.startswith("scr-") and len(first.split("-")[-1]) == 6
    register(worse, "c1", parent=first)  # newer, but no better: not adopted
    register(report, "c2")  # better, but another campaign's
    assert models.current_version(db, "screener", "c1") == first
    newest = register(report, "c1", parent=first)
    assert newest != first
    assert models.current_version(db, "screener", "c1") == newest
    assert models.current_version(db, "screener", "c3") is None

    doc = ModelVersionDoc.from_mongo(db.models.find_one({"_id": first}))
    assert doc.kind == "screener" and doc.campaign == "c1" and doc.parent is None
    assert doc.training_set_ids == ids
    assert doc.metrics["mae_after_eV_per_atom"] == report.mae_after_eV_per_atom
    assert doc.metrics["improved"] == 1.0
    assert doc.hyperparameters["epochs"] == EPOCHS
    assert doc.hyperparameters["base_method"] == "chgnet-0.3.0"
    assert doc.hyperparameters["held_out_ids"] == report.held_out_ids
    assert ModelVersionDoc.from_mongo(db.models.find_one({"_id": newest})).parent == first

    loaded = models.load(db, "screener", first)
    assert models.load(db, "screener", first) is loaded  # kept loaded
    assert energy.method_label(loaded) == f"chgnet-{first}"
    assert np.array_equal(energy.predict_energies(structures, model=loaded),
                          energy.predict_energies(structures, model=model))


def test_unknown_or_wrong_kind_of_version(db):
    with pytest.raises(NotFound, match="screener version scr-nope not found"):
        models.load(db, "screener", "scr-nope")
    db.models.insert_one({"_id": "gen-1", "kind": "generator"})
    with pytest.raises(InvalidInput, match="is a generator, not a screener"):
        models.load(db, "screener", "gen-1")


def test_too_few_or_mismatched_inputs(data):
    structures, targets, ids, _ = data
    cases = [
        (structures[:1], targets[:1], None, "at least 2 structures"),
        (structures[:3], targets[:2], None, "3 structures but 2 energies"),
        (structures[:3], targets[:3], ids[:2], "3 structures but 2 ids"),
        (structures[:3], targets[:3], ["a", "a", "b"], "not unique"),
        ([structures[0], "Fe2O3"], targets[:2], None, "not a pymatgen Structure"),
        (structures[:2], [-1.0, "low"], None, "must be numbers"),
    ]
    for s, e, i, message in cases:
        with pytest.raises(InvalidInput, match=message) as err:
            screener.finetune_screener(s, e, i)
        assert "\n" not in str(err.value)
    with pytest.raises(InvalidInput, match="held_out_fraction"):
        screener.finetune_screener(structures, targets, held_out_fraction=1.0)
