"""A generator version in memory: network + size rule + prompt pool, and its checkpoint format.

A checkpoint is one ``torch.save`` of plain containers (loaded with ``weights_only=True``,
so a checkpoint can never execute code): the format tag, the hyperparameters, the EMA
weights, the atom-type vocabulary, the size table and the prompt pool. Weights are stored
in float16 to keep the shipped file small; they are computed in float32.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mofgen.errors import InvalidInput
from mofgen.generator.corpus import CorpusEntry
from mofgen.generator.diffusion import Diffusion
from mofgen.generator.egnn import EGNNDynamics

CHECKPOINT_FORMAT = "mofgen-generator/1"
#: Heavy elements the model can place (the corpus uses no others).
ATOM_TYPES = ("C", "N", "O", "F", "S", "Cl", "Br")
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"hidden": 64, "layers": 4, "timesteps": 500}
#: Width of the prompt-distance bins of the size table (Angstrom).
SIZE_BIN = 1.0
MAX_PROMPTS = 400  # per anchor kind kept in a checkpoint


def prompt_distance(symbols: list[str], coords: np.ndarray) -> float:
    """Distance between the first atoms (anchor carbons) of the two anchor groups."""
    half = len(symbols) // 2
    return float(np.linalg.norm(np.asarray(coords[0]) - np.asarray(coords[half])))


@dataclass
class SizeRule:
    """How many linker atoms to generate for a prompt: p(n | anchor, prompt distance).

    A histogram per anchor kind and distance bin, counted on the training data (DiffLinker
    learns this with a small GNN; two anchor groups are described well enough by their
    distance). Fine-tuning blends the new data's histogram with the parent's.
    """

    counts: dict[str, dict[int, dict[int, float]]] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: list[CorpusEntry]) -> SizeRule:
        rule = cls()
        for e in entries:
            d = prompt_distance(e.symbols[:e.n_fragment], e.positions[:e.n_fragment])
            bins = rule.counts.setdefault(e.anchor, {})
            row = bins.setdefault(int(d // SIZE_BIN), {})
            row[e.n_linker] = row.get(e.n_linker, 0.0) + 1.0
        return rule

    def blend(self, other: SizeRule, weight: float) -> SizeRule:
        """``self`` and ``other`` mixed with ``other`` contributing ``weight`` of each row."""
        out = SizeRule({a: {b: dict(r) for b, r in bins.items()} for a, bins in
                        self.counts.items()})
        for anchor, bins in other.counts.items():
            for b, row in bins.items():
                mine = out.counts.setdefault(anchor, {}).setdefault(b, {})
                total_mine, total_new = sum(mine.values()), sum(row.values())
                scale = (weight / (1 - weight)) * total_mine / total_new if total_mine else 1.0
                for n, c in row.items():
                    mine[n] = mine.get(n, 0.0) + c * scale
        return out

    def sample(self, anchor: str, distance: float, rng: np.random.Generator) -> int:
        bins = self.counts.get(anchor)
        if not bins:
            raise InvalidInput(f"this model has no size data for {anchor} linkers")
        b = int(distance // SIZE_BIN)
        nearest = min(bins, key=lambda k: (abs(k - b), k))
        row = bins[nearest]
        sizes = sorted(row)
        p = np.array([row[n] for n in sizes], dtype=float)
        return int(rng.choice(sizes, p=p / p.sum()))

    def to_json(self) -> dict[str, Any]:
        return {a: {str(b): {str(n): c for n, c in r.items()} for b, r in bins.items()}
                for a, bins in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SizeRule:
        return cls({a: {int(b): {int(n): float(c) for n, c in r.items()} for b, r in bins.items()}
                    for a, bins in data.items()})


@dataclass
class Prompt:
    """Two anchor groups in 3D: what a linker is generated between."""

    anchor: str
    symbols: list[str]
    coords: np.ndarray

    @property
    def distance(self) -> float:
        return prompt_distance(self.symbols, self.coords)


def prompts_from_entries(entries: list[CorpusEntry], limit: int = MAX_PROMPTS,
                         seed: int = 0) -> list[Prompt]:
    """Up to ``limit`` prompts per anchor kind, drawn reproducibly from training molecules."""
    rng = np.random.default_rng(seed)
    out: list[Prompt] = []
    for anchor in sorted({e.anchor for e in entries}):
        pool = [e for e in entries if e.anchor == anchor]
        pick = rng.permutation(len(pool))[:limit]
        out += [Prompt(anchor, pool[i].symbols[:pool[i].n_fragment],
                       pool[i].positions[:pool[i].n_fragment].astype(np.float64)) for i in pick]
    return out


class GeneratorModel:
    """Everything needed to sample: diffusion network, size rule, prompts and identity."""

    def __init__(self, hyperparameters: dict[str, Any] | None = None,
                 size_rule: SizeRule | None = None, prompts: list[Prompt] | None = None,
                 version: str | None = None):
        self.hyperparameters = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
        hp = self.hyperparameters
        self.diffusion = Diffusion(EGNNDynamics(len(ATOM_TYPES), int(hp["hidden"]),
                                                int(hp["layers"])), int(hp["timesteps"]))
        self.size_rule = size_rule or SizeRule()
        self.prompts = prompts or []
        self.version = version

    @property
    def network(self) -> EGNNDynamics:
        return self.diffusion.dynamics

    def anchors(self) -> list[str]:
        return sorted({p.anchor for p in self.prompts})

    # ----------------------------------------------------------------- checkpoint
    def to_bytes(self) -> bytes:
        state = {k: v.detach().cpu().to(torch.float16) for k, v in
                 self.network.state_dict().items()}
        payload = {
            "format": CHECKPOINT_FORMAT,
            "hyperparameters": self.hyperparameters,
            "atom_types": list(ATOM_TYPES),
            "state_dict": state,
            "size_rule": self.size_rule.to_json(),
            "prompts": [{"anchor": p.anchor, "symbols": p.symbols,
                         "coords": np.round(p.coords, 4).tolist()} for p in self.prompts],
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, version: str | None = None,
                   source: str = "checkpoint") -> GeneratorModel:
        """Load a checkpoint; anything unreadable is an ``InvalidInput`` naming ``source``."""
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("not a mofgen generator checkpoint")
            if tuple(payload["atom_types"]) != ATOM_TYPES:
                raise ValueError("atom-type vocabulary differs from this mofgen")
            model = cls(payload["hyperparameters"], SizeRule.from_json(payload["size_rule"]),
                        [Prompt(p["anchor"], list(p["symbols"]), np.asarray(p["coords"], float))
                         for p in payload["prompts"]], version)
            model.network.load_state_dict({k: v.float() for k, v in
                                           payload["state_dict"].items()})
        except Exception as exc:  # truncated zip, wrong pickle, missing keys, shape mismatch
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"corrupt or incompatible generator {source}: {message}") from None
        return model

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | Path, version: str | None = None) -> GeneratorModel:
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"no generator checkpoint at {path}")
        return cls.from_bytes(path.read_bytes(), version, source=f"checkpoint {path}")
