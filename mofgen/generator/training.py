"""Pretraining and fine-tuning of the diffusion generator.

Both are the same loop (AdamW, gradient clipping, an exponential moving average of the
weights, as EDM keeps for sampling); they differ in where they start and what the size rule
and prompt pool become. Training stops after ``epochs`` or ``max_minutes``, whichever comes
first, so a campaign's retrain task has a bounded cost.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from mofgen.errors import InvalidInput
from mofgen.generator.corpus import CorpusEntry
from mofgen.generator.diffusion import collate
from mofgen.generator.model import (
    ATOM_TYPES,
    MAX_PROMPTS,
    GeneratorModel,
    SizeRule,
    prompts_from_entries,
)

_TYPE_INDEX = {s: i for i, s in enumerate(ATOM_TYPES)}


@dataclass
class TrainConfig:
    """Optimisation settings (stored with the model version as its hyperparameters)."""

    epochs: float = 10.0
    batch_size: int = 32
    lr: float = 1e-3
    max_minutes: float | None = None
    seed: int = 0
    ema_decay: float = 0.999
    clip_grad: float = 1.0
    #: anchor kind -> how many times each of its molecules appears per epoch (default 1);
    #: spends more of a fixed budget on the anchor kind the model is worse at.
    oversample: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        if self.epochs <= 0 or self.batch_size <= 0 or self.lr <= 0:
            raise InvalidInput("epochs, batch size and learning rate must be positive")
        if any(int(k) < 1 for k in self.oversample.values()):
            raise InvalidInput("oversampling factors must be whole numbers >= 1")


def device() -> torch.device:
    """CUDA when present (MOFA's generator runs on a GPU), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def usable(entries: list[CorpusEntry]) -> list[CorpusEntry]:
    """Entries whose elements the model knows and that have linker atoms to generate."""
    return [e for e in entries if e.n_linker > 0 and all(s in _TYPE_INDEX for s in e.symbols)]


def _batches(entries: list[CorpusEntry], size: int, rng: np.random.Generator
             ) -> list[list[CorpusEntry]]:
    """Shuffled batches of similar molecule size (less padding in the dense EGNN)."""
    order = rng.permutation(len(entries))
    chunk = size * 8
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: len(entries[i].symbols))
        batches += [[entries[i] for i in part[k:k + size]] for k in range(0, len(part), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(model: GeneratorModel, entries: list[CorpusEntry], config: TrainConfig,
        progress: Callable[[dict], None] | None = None) -> dict:
    """Train ``model`` in place on ``entries``; returns loss and timing statistics."""
    config.check()
    data = usable(entries)
    if not data:
        raise InvalidInput("no usable training molecules (need ditopic COO or cyano linkers)")
    data = [e for e in data for _ in range(int(config.oversample.get(e.anchor, 1)))]
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    dev = device()
    diffusion = model.diffusion.to(dev)
    net = diffusion.dynamics
    ema = copy.deepcopy(net).eval()
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-12)
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    total = max(1, int(round(config.epochs * steps_per_epoch)))
    start, step, losses = time.perf_counter(), 0, []
    deadline = start + 60 * config.max_minutes if config.max_minutes else math.inf

    def lr_factor(s: int) -> float:
        """Warm-up, then cosine decay over whichever budget (steps or time) runs out first."""
        done = s / total
        if config.max_minutes:
            done = max(done, (time.perf_counter() - start) / (60 * config.max_minutes))
        return min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_factor)
    net.train()
    while step < total and time.perf_counter() < deadline:
        for group in _batches(data, config.batch_size, rng):
            batch = collate([[_TYPE_INDEX[s] for s in e.symbols] for e in group],
                            [e.positions for e in group], [e.n_fragment for e in group],
                            len(ATOM_TYPES)).to(dev)
            loss = diffusion.loss(batch)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
            optimiser.step()
            schedule.step()
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), net.parameters()):
                    p_ema.lerp_(p, 1 - decay)
            losses.append(float(loss.detach()))
            step += 1
            if progress and step % 50 == 0:
                progress({"step": step, "of": total, "loss": float(np.mean(losses[-50:])),
                          "seconds": round(time.perf_counter() - start, 1)})
            if step >= total or time.perf_counter() >= deadline:
                break
    net.load_state_dict(ema.state_dict())
    net.eval()
    diffusion.to("cpu")
    seconds = time.perf_counter() - start
    return {"steps": step, "planned_steps": total, "epochs_done": round(step / steps_per_epoch, 2),
            "molecules": len(data), "seconds": round(seconds, 1),
            "final_loss": round(float(np.mean(losses[-100:])), 4),
            "seconds_per_100_molecules": round(100 * seconds / (step * config.batch_size), 3),
            "device": str(dev)}


def pretrain(entries: list[CorpusEntry], config: TrainConfig,
             hyperparameters: dict | None = None,
             progress: Callable[[dict], None] | None = None) -> tuple[GeneratorModel, dict]:
    """A new model trained from scratch; its size rule and prompts come from ``entries``."""
    data = usable(entries)
    model = GeneratorModel(hyperparameters, SizeRule.from_entries(data),
                           prompts_from_entries(data, seed=config.seed))
    stats = fit(model, data, config, progress)
    return model, {**stats, "config": asdict(config)}


def finetune(parent: GeneratorModel, entries: list[CorpusEntry], config: TrainConfig,
             blend: float = 0.5, progress: Callable[[dict], None] | None = None,
             prompt_entries: list[CorpusEntry] | None = None
             ) -> tuple[GeneratorModel, dict]:
    """A copy of ``parent`` trained further on ``entries`` (the campaign's good linkers).

    The size rule and the prompt pool move ``blend`` of the way to the new data, so longer
    or shorter linkers in the fine-tuning set are also proposed more often. With
    ``prompt_entries`` (e.g. the campaign's linkers without the replayed corpus) they move
    towards those instead: generation is then conditioned on the anchor geometries that
    made stable MOFs, while the network still trains on everything.
    """
    data = usable(entries)
    if not data:
        raise InvalidInput("no usable fine-tuning molecules (need ditopic COO or cyano linkers)")
    shaping = usable(prompt_entries) if prompt_entries else data
    if not shaping:
        shaping = data
    model = GeneratorModel(parent.hyperparameters, parent.size_rule.blend(
        SizeRule.from_entries(shaping), blend),
        _blend_prompts(parent, shaping, blend, config.seed))
    model.network.load_state_dict(parent.network.state_dict())
    stats = fit(model, data, config, progress)
    return model, {**stats, "config": asdict(config), "blend": blend}


def _blend_prompts(parent: GeneratorModel, data: list[CorpusEntry], blend: float,
                   seed: int) -> list:
    new = prompts_from_entries(data, seed=seed)
    out = []
    for anchor in sorted({p.anchor for p in parent.prompts} | {p.anchor for p in new}):
        old_a = [p for p in parent.prompts if p.anchor == anchor]
        new_a = [p for p in new if p.anchor == anchor]
        if not new_a:
            out += old_a
            continue
        k_new = int(round(MAX_PROMPTS * blend)) if old_a else MAX_PROMPTS
        picked_new = [new_a[i % len(new_a)] for i in range(k_new)]  # repeat small sets
        out += picked_new + old_a[:MAX_PROMPTS - k_new]
    return out
