"""The screening model: CHGNet fine-tuned online to predict *relaxed* energies.

exa-AMD screens candidates by the energy of the unrelaxed structure, but what decides
stability is the energy after relaxation. The campaign's retrain stage therefore
fine-tunes CHGNet on its own (unrelaxed structure -> relaxed energy per atom) pairs and
keeps a new version only if it lowers the error on structures it did not train on.

Only the readout is trained: the readout MLP and the per-element reference energies
(``AtomRef``). The message-passing trunk stays frozen, so its features of each structure
are computed once and every epoch is a cheap pass through a 12k-parameter head. A campaign
has tens to hundreds of pairs, far too few to retrain the 400k-parameter trunk without
forgetting what it learned from MPtrj; a systematic relaxation correction, on the other
hand, is exactly what the readout can absorb. (``chgnet.trainer.Trainer`` with
``targets="e"`` would ignore the forces ``StructureData`` insists on, but it trains the
whole network through full forward passes, writes checkpoints to disk and reseeds the
global ``random``; a plain loop avoids all three.)

Versions live in the model registry (:mod:`mofgen.models`) as kind ``"screener"``; this
module keeps what is the screener's own: its checkpoint bytes and what a fine-tuning
report records. Callers choose the torch thread count; nothing here changes it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pymatgen.core import Structure

from mofgen import models
from mofgen.crystal.energy import (
    _check_structures,
    build_graphs,
    load_model,
    method_label,
    predict_energies,
)
from mofgen.errors import InvalidInput

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from chgnet.model import CHGNet

CHECKPOINT_FORMAT = "mofgen-screener/1"
FEATURE_BATCH = 16  # structures per frozen-trunk forward pass


@dataclass(frozen=True)
class ScreenerReport:
    """What one fine-tuning did, and whether it helped on the held-out structures."""

    n_train: int
    n_held_out: int
    mae_before_eV_per_atom: float
    mae_after_eV_per_atom: float
    improved: bool  # after < before: the only case in which a campaign should adopt it
    epochs: int
    seconds: float
    held_out_ids: list[str]
    lr: float
    held_out_fraction: float
    batch_size: int
    seed: int
    base_method: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------- fine-tuning

def finetune_screener(structures: Sequence[Structure], energies_per_atom: Sequence[float],
                      ids: Sequence[str] | None = None, base: CHGNet | None = None,
                      epochs: int = 30, lr: float = 1e-3, held_out_fraction: float = 0.25,
                      seed: int = 0, batch_size: int = 4) -> tuple[CHGNet, ScreenerReport]:
    """Fine-tune a copy of ``base`` to map unrelaxed structures to relaxed eV/atom.

    A seeded split by id holds out about ``held_out_fraction`` of the structures (at
    least one, and at least one is kept for training). The report gives the held-out MAE
    of ``base`` and of the fine-tuned model, both from :func:`predict_energies`; the
    held-out set chooses nothing, so "after" is an honest estimate. ``base`` (default:
    the shipped CHGNet) is left untouched.
    """
    structures = _check_structures(structures)
    targets = _check_targets(structures, energies_per_atom)
    ids = _check_ids(structures, ids)
    _check_settings(epochs, lr, held_out_fraction, batch_size)
    start = time.perf_counter()
    base = base or load_model()
    train, held = _split(ids, held_out_fraction, seed)
    held_structures = [structures[i] for i in held]
    mae_before = _mae(predict_energies(held_structures, model=base), targets[held])

    model = copy.deepcopy(base)
    model.model_args["version"] = f"{base.version}+ft"  # never labelled as the shipped model
    graphs = _graphs(model, [structures[i] for i in train], [ids[i] for i in train])
    _train_readout(model, graphs, torch.tensor(targets[train], dtype=torch.float32),
                   epochs, lr, batch_size, seed)
    mae_after = _mae(predict_energies(held_structures, model=model), targets[held])
    report = ScreenerReport(
        n_train=len(train), n_held_out=len(held), mae_before_eV_per_atom=mae_before,
        mae_after_eV_per_atom=mae_after, improved=mae_after < mae_before, epochs=epochs,
        seconds=round(time.perf_counter() - start, 3), held_out_ids=[ids[i] for i in held],
        lr=lr, held_out_fraction=held_out_fraction, batch_size=batch_size, seed=seed,
        base_method=method_label(base))
    return model, report


def _check_targets(structures: list[Structure], energies: Sequence[float]) -> np.ndarray:
    try:
        values = np.asarray(list(energies), dtype=float)
    except (TypeError, ValueError):
        raise InvalidInput("energies_per_atom must be numbers (eV/atom)") from None
    if values.shape != (len(structures),):
        raise InvalidInput(f"{len(structures)} structures but {values.size} energies")
    if len(structures) < 2:
        raise InvalidInput(f"fine-tuning needs at least 2 structures (one to train on, one "
                           f"to hold out), got {len(structures)}")
    if not np.isfinite(values).all():
        raise InvalidInput(f"energy {int(np.argmin(np.isfinite(values)))} is not finite")
    return values


def _check_ids(structures: list[Structure], ids: Sequence[str] | None) -> list[str]:
    if ids is None:
        return [str(i) for i in range(len(structures))]
    out = [str(i) for i in ids]
    if len(out) != len(structures):
        raise InvalidInput(f"{len(structures)} structures but {len(out)} ids")
    if len(set(out)) != len(out):
        raise InvalidInput("structure ids are not unique")
    return out


def _check_settings(epochs: int, lr: float, held_out_fraction: float, batch_size: int) -> None:
    if epochs < 1:
        raise InvalidInput(f"epochs must be at least 1, got {epochs}")
    if not lr > 0:
        raise InvalidInput(f"lr must be positive, got {lr}")
    if not 0 < held_out_fraction < 1:
        raise InvalidInput(f"held_out_fraction must be between 0 and 1, got {held_out_fraction}")
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")


def _split(ids: list[str], held_out_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Train / held-out indices (both non-empty), decided per id by a seeded hash.

    Deciding per id rather than by shuffling the whole list keeps a structure on the same
    side as the campaign's data set grows: a later version's held-out structures were
    never in an earlier version's training set, so "better than the parent" is measured on
    data neither of them has seen.
    """
    scores = [int.from_bytes(hashlib.sha256(f"{seed}:{i}".encode()).digest()[:8], "big") / 2**64
              for i in ids]
    held = {k for k, score in enumerate(scores) if score < held_out_fraction}
    if not held:
        held = {int(np.argmin(scores))}
    if len(held) == len(ids):
        held.discard(int(np.argmax(scores)))
    return [k for k in range(len(ids)) if k not in held], sorted(held)


def _mae(predicted: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - target)))


def _graphs(model: CHGNet, structures: list[Structure], ids: list[str]) -> list[CrystalGraph]:
    return build_graphs(structures, model, ids)


def _readout_inputs(model: CHGNet, graphs: list[CrystalGraph]) -> list[torch.Tensor]:
    """What the frozen trunk hands the readout MLP, one tensor per structure."""
    captured: list[torch.Tensor] = []
    hook = model.mlp.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    try:
        model.eval()
        with torch.no_grad():
            for i in range(0, len(graphs), FEATURE_BATCH):
                model(graphs[i:i + FEATURE_BATCH], task="e")
    finally:
        hook.remove()
    rows = [len(g.atomic_number) if model.mlp_first else 1 for g in graphs]
    return list(torch.split(torch.cat(captured), rows))


def _readout(model: CHGNet, inputs: list[torch.Tensor], graphs: list[CrystalGraph]) -> torch.Tensor:
    """Energy per atom from cached readout inputs: the tail of ``CHGNet._compute``."""
    n_atoms = torch.tensor([len(g.atomic_number) for g in graphs])
    if model.mlp_first:
        owners = torch.repeat_interleave(torch.arange(len(graphs)), n_atoms)
        energy = model.pooling(model.mlp(torch.cat(inputs)), owners).view(-1)
    else:
        energy = model.mlp(torch.cat(inputs)).view(-1) * n_atoms
    if model.is_intensive:
        energy = energy / n_atoms
    if model.composition_model is not None:
        energy = energy + model.composition_model(graphs)
    return energy


def _train_readout(model: CHGNet, graphs: list[CrystalGraph], targets: torch.Tensor,
                   epochs: int, lr: float, batch_size: int, seed: int) -> None:
    """Adam on the readout MLP and AtomRef (MSE, cosine-decayed lr); the trunk is frozen."""
    inputs = _readout_inputs(model, graphs)
    trainable = [*model.mlp.parameters()]
    if model.composition_model is not None:
        trainable += [*model.composition_model.parameters()]
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad = False
    for p in trainable:
        p.requires_grad = True
    steps_per_epoch = math.ceil(len(graphs) / batch_size)
    optimizer = torch.optim.Adam(trainable, lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs * steps_per_epoch, eta_min=0.01 * lr)
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG
        torch.manual_seed(seed)
        order = torch.Generator().manual_seed(seed)
        model.mlp.train()
        try:
            for _ in range(epochs):
                for batch in torch.randperm(len(graphs), generator=order).split(batch_size):
                    chosen = batch.tolist()
                    predicted = _readout(model, [inputs[i] for i in chosen],
                                         [graphs[i] for i in chosen])
                    loss = torch.nn.functional.mse_loss(predicted, targets[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
        finally:
            model.eval()
            for name, p in model.named_parameters():
                p.requires_grad = flags[name]


# ----------------------------------------------------------------------- serialisation

def screener_to_bytes(model: CHGNet) -> bytes:
    """Checkpoint bytes: CHGNet's constructor arguments and its state dict."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "model_args": dict(model.model_args),
                "state_dict": model.state_dict()}, buffer)
    return buffer.getvalue()


def screener_from_bytes(data: bytes, version: str | None = None) -> CHGNet:
    """The model of :func:`screener_to_bytes` (tensors only are unpickled: safe to load).

    ``version`` (the registry's id) must be the label inside the checkpoint, if given.
    """
    from chgnet.model import CHGNet

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a mofgen screener checkpoint")
        with contextlib.redirect_stdout(io.StringIO()):  # CHGNet announces every build
            model = CHGNet.from_dict(state)
    except Exception as exc:
        raise InvalidInput(f"screener checkpoint is unreadable: {type(exc).__name__}: "
                           f"{(str(exc).splitlines() or [''])[0][:200]}") from None
    if version is not None and model.version != version:
        raise InvalidInput(f"screener checkpoint of version {version} is labelled "
                           f"{model.version}")
    return model.eval()


# ---------------------------------------------------------------------------- registry

def register_screener(db: Any, model: CHGNet, parent: str | None,
                      training_set_ids: Sequence[str], report: ScreenerReport,
                      campaign: str | None) -> str:
    """Register ``model`` as a new screener version in :mod:`mofgen.models`; its id.

    ``parent`` is the version it was fine-tuned from (None: the shipped CHGNet). The
    model is relabelled with its version id, so energies it predicts are tagged
    ``chgnet-scr-…`` by :func:`method_label` and never mixed with the shipped model's.
    The report's ``improved`` flag is stored as a metric: a version that did not beat its
    parent is kept but not adopted (:func:`mofgen.models.current_version`).
    """
    provenance = json.dumps([parent, campaign, report.as_dict()], sort_keys=True).encode()
    version = models.new_version_id("screener", screener_to_bytes(model) + provenance)
    model.model_args["version"] = version
    if db.models.find_one({"_id": version}, {"_id": 1}):
        return version  # an identical model and report, registered within the same second
    metrics = {"n_train": report.n_train, "n_held_out": report.n_held_out,
               "mae_before_eV_per_atom": report.mae_before_eV_per_atom,
               "mae_after_eV_per_atom": report.mae_after_eV_per_atom,
               "improved": float(report.improved), "promoted": float(report.improved),
               "seconds": report.seconds}
    hyperparameters = {"epochs": report.epochs, "lr": report.lr,
                       "held_out_fraction": report.held_out_fraction,
                       "batch_size": report.batch_size, "seed": report.seed,
                       "base_method": report.base_method, "trained": "readout mlp + atom_ref",
                       "held_out_ids": list(report.held_out_ids)}
    models.register(db, "screener", screener_to_bytes(model), version=version, parent=parent,
                    training_set_ids=training_set_ids, hyperparameters=hyperparameters,
                    metrics=metrics, campaign=campaign)
    return version
