"""Sampling linkers: prompts + size rule + diffusion, then the chemistry layer's processing.

:func:`generate` is a stream: it yields one batch of :class:`GeneratedLinker` at a time, so
a generate task can store and assemble linkers while the model keeps sampling (as MOFA's
generator tasks stream their results). Every linker carries the model version that made it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field
from rdkit import Chem

from mofgen.chemistry import ProcessedLinker, normalise_anchor, try_process_linker
from mofgen.documents import LinkerDoc
from mofgen.errors import InvalidInput
from mofgen.generator.linker_list import flat_smiles
from mofgen.generator.model import ATOM_TYPES, GeneratorModel, Prompt
from mofgen.generator.training import device

#: Reverse-diffusion steps used by default (the model is trained on a 500-step grid).
DEFAULT_STEPS = 100
DEFAULT_BATCH = 32
_PT = Chem.GetPeriodicTable()


class GeneratedLinker(BaseModel):
    """One sample: its raw heavy atoms and what processing made of it."""

    anchor: str
    model_version: str | None
    symbols: list[str]  # raw heavy atoms: the prompt first, then the generated atoms
    coords: list[list[float]]
    n_linker_atoms: int
    dropped_atoms: int = 0  # stray generated atoms removed before processing
    valid: bool
    smiles: str | None = None
    rejection: str | None = None
    processed: dict[str, Any] | None = Field(default=None, repr=False)

    def processed_linker(self) -> ProcessedLinker | None:
        return ProcessedLinker.from_dict(self.processed) if self.processed else None

    def to_linker_doc(self, campaign: str, linker_id: str | None = None) -> LinkerDoc:
        """The ``linkers`` collection document for this sample."""
        import hashlib

        entry, why = self.training_entry()
        key = self.smiles or repr((self.symbols, self.coords))
        ident = linker_id or "lnk-" + hashlib.sha1(
            f"{campaign}|{self.model_version}|{key}|{self.coords[-1]}".encode()).hexdigest()[:16]
        return LinkerDoc(
            _id=ident, campaign=campaign, smiles=self.smiles or "", anchor=self.anchor,
            inchikey=(self.processed or {}).get("inchikey"), model_version=self.model_version,
            geometry={"symbols": self.symbols, "coords": self.coords},
            training_entry=entry, training_rejection=why,
            fate="processed" if self.valid else f"rejected:{self.rejection}")

    def training_entry(self) -> tuple[dict[str, Any] | None, str | None]:
        """This linker as a fine-tuning example, or why it is none.

        Preferably its processed geometry (force-field relaxed, as placed in the MOF); if
        bond perception changes that one, the sample as generated, which processing
        accepted from exactly these coordinates. Either way no re-embedding from SMILES.
        """
        from mofgen.chemistry import LinkerRejected
        from mofgen.generator.corpus import entry_from_processed

        if not self.valid or not self.processed:
            return None, f"not a valid linker ({self.rejection})"
        try:
            entry = entry_from_processed(self.processed_linker())
            return {"symbols": entry.symbols, "coords": entry.coords,
                    "n_fragment": entry.n_fragment, "source": "processed"}, None
        except LinkerRejected:
            n_prompt = len(self.symbols) - self.n_linker_atoms
            return {"symbols": self.symbols, "coords": self.coords, "n_fragment": n_prompt,
                    "source": "generated"}, None


def check_request(n: int, anchor: str, model: GeneratorModel) -> str:
    """Validate a sampling request; returns the normalised anchor kind."""
    if not isinstance(n, int) or n <= 0:
        raise InvalidInput(f"--n must be a positive number of linkers, got {n}")
    try:
        kind = normalise_anchor(anchor)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if kind not in model.anchors():
        raise InvalidInput(f"model {model.version} has no {kind} prompts; it knows "
                           f"{', '.join(model.anchors()) or 'none'}")
    return kind


def sample_raw(model: GeneratorModel, prompts: list[Prompt], n_linker: list[int], seed: int = 0,
               steps: int = DEFAULT_STEPS) -> list[tuple[list[str], np.ndarray]]:
    """Heavy atoms (prompt + generated) for explicit prompts and sizes; deterministic in seed."""
    index = {s: i for i, s in enumerate(ATOM_TYPES)}
    generator = torch.Generator().manual_seed(int(seed))  # on the CPU: same draws everywhere
    model.diffusion.to(device()).eval()
    results = model.diffusion.sample([np.array([index[s] for s in p.symbols]) for p in prompts],
                                     [p.coords for p in prompts], n_linker, steps, generator)
    out = []
    for prompt, (types, xyz) in zip(prompts, results):
        symbols = list(prompt.symbols) + [ATOM_TYPES[int(t)] for t in types]
        out.append((symbols, np.concatenate([prompt.coords, xyz])))
    return out


def generate(model: GeneratorModel, n: int, anchor: str = "COO", seed: int = 0,
             steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH, process: bool = True
             ) -> Iterator[list[GeneratedLinker]]:
    """Yield batches of generated linkers (``n`` in total) between prompts of ``anchor``.

    Each batch draws its prompts from the model's pool and the number of linker atoms from
    its size rule, samples, then (``process``) runs the chemistry layer's processing.
    """
    kind = check_request(n, anchor, model)
    if steps <= 0 or batch_size <= 0:
        raise InvalidInput("steps and batch size must be positive")
    pool = [p for p in model.prompts if p.anchor == kind]
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        size = min(batch_size, n - done)
        prompts = [pool[int(i)] for i in rng.integers(0, len(pool), size)]
        sizes = [model.size_rule.sample(kind, p.distance, rng) for p in prompts]
        raw = sample_raw(model, prompts, sizes, seed=int(rng.integers(2**31)), steps=steps)
        batch = []
        for (symbols, xyz), k in zip(raw, sizes):
            item = GeneratedLinker(anchor=kind, model_version=model.version, symbols=symbols,
                                   coords=np.round(xyz, 4).tolist(), n_linker_atoms=k,
                                   valid=False)
            if process:
                _process(item)
            batch.append(item)
        done += size
        yield batch


def keep_anchored_fragment(symbols: list[str], coords: np.ndarray, n_prompt: int
                           ) -> tuple[list[str], np.ndarray, int]:
    """Drop generated atoms not bonded (directly or through others) to the anchors.

    EDM and DiffLinker evaluate the largest fragment of a sample; here the fragment that
    matters is the one holding both anchor groups. Bonds follow the chemistry layer's rule
    (closer than 1.3x the covalent radii sum). If the anchors are not in one fragment the
    sample is returned unchanged (processing then rejects it as disconnected).
    """
    xyz = np.asarray(coords, dtype=float)
    radii = np.array([_PT.GetRcovalent(_PT.GetAtomicNumber(s)) for s in symbols])
    dist = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    bonded = dist < 1.3 * (radii[:, None] + radii[None])
    reached, frontier = {0}, [0]
    while frontier:
        i = frontier.pop()
        for j in np.nonzero(bonded[i])[0]:
            if int(j) not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    if not set(range(n_prompt)) <= reached:
        return symbols, xyz, 0
    keep = sorted(reached)
    return [symbols[i] for i in keep], xyz[keep], len(symbols) - len(keep)


def _process(item: GeneratedLinker) -> None:
    n_prompt = len(item.symbols) - item.n_linker_atoms
    symbols, xyz, dropped = keep_anchored_fragment(item.symbols, np.asarray(item.coords),
                                                   n_prompt)
    if dropped:
        item.symbols, item.coords = symbols, np.round(xyz, 4).tolist()
        item.dropped_atoms = dropped
        item.n_linker_atoms -= dropped
    result = try_process_linker(item.symbols, item.coords, item.anchor)
    if isinstance(result, ProcessedLinker):
        item.valid = True
        item.smiles = flat_smiles(result.smiles) or result.smiles
        item.processed = result.as_dict()
    else:
        item.rejection = result.check
