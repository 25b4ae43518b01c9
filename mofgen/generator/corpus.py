"""Training corpus: expanded linker SMILES -> 3D heavy-atom molecules split into prompt + linker.

Each molecule is embedded with RDKit (ETKDG + MMFF, via the chemistry layer's
``process_smiles``) and then sent back through ``process_linker`` *as heavy-atom
coordinates*, exactly the form the diffusion model emits; only molecules that survive this
round trip are kept, so the model never learns a geometry the chemistry layer would reject.

A molecule is stored as its two anchor groups (the fixed "prompt", as in MOFA's COO and
cyano templates: carboxyl C, O, O or nitrile C, N) followed by the linker atoms the model
generates. The corpus is deterministic for a seed and cached as gzipped JSON in the user
cache directory (``$MOFGEN_CACHE``, else ``$XDG_CACHE_HOME/mofgen``, else ``~/.cache/mofgen``).
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from mofgen.chemistry import (
    LinkerRejected,
    ProcessedLinker,
    normalise_anchor,
    process_linker,
    process_smiles,
)
from mofgen.errors import InvalidInput
from mofgen.generator.linker_list import Candidate, expand, flat_smiles

CORPUS_FORMAT = 1
#: Anchor group atoms that form the prompt, per anchor kind (heavy atoms, in this order).
_ANCHOR_SMARTS = {"COO": Chem.MolFromSmarts("[CX3](=[OX1])[OX2H1]"),
                  "cyano": Chem.MolFromSmarts("[CX2]#[NX1]")}


@dataclass
class CorpusEntry:
    """One 3D linker: ``symbols[:n_fragment]`` are the two anchor groups (the prompt)."""

    smiles: str
    name: str
    anchor: str
    symbols: list[str]
    coords: list[list[float]]
    n_fragment: int

    @property
    def n_linker(self) -> int:
        return len(self.symbols) - self.n_fragment

    @property
    def positions(self) -> np.ndarray:
        return np.asarray(self.coords, dtype=np.float32)


def cache_dir() -> Path:
    """Where corpora are cached (created on demand)."""
    root = os.environ.get("MOFGEN_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mofgen"


def corpus_path(seed: int, per_anchor: int) -> Path:
    return cache_dir() / f"corpus-v{CORPUS_FORMAT}-seed{seed}-n{per_anchor}.json.gz"


def entry_from_smiles(smiles: str, anchor: str | None = None, name: str = "") -> CorpusEntry:
    """Embed one linker and split it into prompt + linker; raises ``LinkerRejected``."""
    return entry_from_processed(process_smiles(smiles, anchor), name)


def entry_from_processed(processed: ProcessedLinker, name: str = "") -> CorpusEntry:
    """A processed linker's own 3D geometry (as placed in a MOF) as a training entry: its
    heavy atoms split into prompt + linker, checked to survive bond perception from
    coordinates as a generated copy would. Raises ``LinkerRejected``."""
    mol = Chem.RemoveHs(processed.mol())
    kind = processed.anchor
    groups = [list(m) for m in mol.GetSubstructMatches(_ANCHOR_SMARTS[kind])]
    if len(groups) != 2:
        raise LinkerRejected("anchors", f"{len(groups)} {kind} anchor groups; the generator "
                             "learns ditopic linkers (two)")
    fragment = groups[0] + groups[1]
    order = fragment + [a.GetIdx() for a in mol.GetAtoms() if a.GetIdx() not in fragment]
    xyz = mol.GetConformer().GetPositions()[order]
    symbols = [mol.GetAtomWithIdx(i).GetSymbol() for i in order]
    roundtrip = process_linker(symbols, xyz, kind)  # what a generated copy would face
    if flat_smiles(roundtrip.smiles) != flat_smiles(processed.smiles):
        raise LinkerRejected("roundtrip", "bond perception from coordinates changes it")
    return CorpusEntry(smiles=processed.smiles, name=name, anchor=kind, symbols=symbols,
                       coords=np.round(xyz, 4).tolist(), n_fragment=len(fragment))


def embed_candidates(candidates: Iterable[Candidate],
                     progress: Callable[[int, int], None] | None = None
                     ) -> tuple[list[CorpusEntry], dict[str, int]]:
    """3D entries for every candidate the chemistry layer accepts; rejection counts."""
    items = list(candidates)
    kept: list[CorpusEntry] = []
    rejected: dict[str, int] = {}
    for k, cand in enumerate(items):
        try:
            kept.append(entry_from_smiles(cand.smiles, cand.anchor, cand.name))
        except LinkerRejected as exc:
            rejected[exc.check] = rejected.get(exc.check, 0) + 1
        if progress and (k + 1) % 250 == 0:
            progress(k + 1, len(items))
    return kept, rejected


def build_corpus(seed: int = 0, per_anchor: int = 2500, force: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Build (or reuse the cached) corpus; returns a summary with its path and counts."""
    if per_anchor <= 0:
        raise InvalidInput(f"--per-anchor must be positive, got {per_anchor}")
    path = corpus_path(seed, per_anchor)
    if path.exists() and not force:
        payload = _read(path)
        entries = [CorpusEntry(**e) for e in payload["entries"]]
        return _summary(path, entries, payload.get("rejected", {}), 0.0, cached=True)
    start = time.perf_counter()
    entries, rejected = embed_candidates(expand(seed, per_anchor), progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CORPUS_FORMAT, "seed": seed, "per_anchor": per_anchor,
               "rejected": rejected, "entries": [asdict(e) for e in entries]}
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt") as handle:
        json.dump(payload, handle)
    tmp.replace(path)
    return _summary(path, entries, rejected, time.perf_counter() - start, cached=False)


def load_corpus(path: str | Path | None = None, seed: int = 0,
                per_anchor: int = 2500) -> list[CorpusEntry]:
    """Entries of a cached corpus (``path`` or the one for ``seed``/``per_anchor``)."""
    payload = _read(Path(path) if path else corpus_path(seed, per_anchor))
    return [CorpusEntry(**e) for e in payload["entries"]]


def _read(path: Path) -> dict:
    if not path.exists():
        raise InvalidInput(f"no corpus at {path}; run `mofgen corpus build` first")
    try:
        with gzip.open(path, "rt") as handle:
            payload = json.load(handle)
        for e in payload["entries"][:1]:
            CorpusEntry(**e)
        return payload
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"corrupt corpus file {path}: {exc}; rebuild with --force") from None


def filter_anchor(entries: list[CorpusEntry], anchor: str | None) -> list[CorpusEntry]:
    if anchor is None:
        return entries
    kind = normalise_anchor(anchor)
    return [e for e in entries if e.anchor == kind]


def _summary(path: Path, entries: list[CorpusEntry], rejected: dict[str, int],
             seconds: float, cached: bool) -> dict:
    by_anchor: dict[str, int] = {}
    for e in entries:
        by_anchor[e.anchor] = by_anchor.get(e.anchor, 0) + 1
    sizes = [e.n_linker for e in entries] or [0]
    return {"path": str(path), "cached": cached, "molecules": len(entries),
            "by_anchor": by_anchor, "rejected": rejected, "seconds": round(seconds, 1),
            "linker_atoms_mean": round(float(np.mean(sizes)), 2),
            "linker_atoms_max": int(max(sizes))}


def entries_from_smiles(smiles: Iterable[str], anchor: str | None = None
                        ) -> tuple[list[CorpusEntry], list[str]]:
    """Fine-tuning data from linker SMILES: the entries and the SMILES that were rejected."""
    kept, dropped = [], []
    for s in smiles:
        try:
            kept.append(entry_from_smiles(s, anchor, name="fine-tuning"))
        except LinkerRejected:
            dropped.append(s)
    return kept, dropped


REPLAY_FILE = "replay.json.gz"  # shipped in mofgen/data/generator: a sample of the corpus


def replay_entries(n: int, seed: int = 0) -> list[CorpusEntry]:
    """``n`` pretraining examples to replay beside a campaign's when fine-tuning (drawn
    from the sample of the corpus that ships with mofgen; deterministic in ``seed``)."""
    from importlib import resources

    if n <= 0:
        return []
    path = resources.files("mofgen") / "data" / "generator" / REPLAY_FILE
    with resources.as_file(path) as real:
        entries = [CorpusEntry(**e) for e in _read(real)["entries"]]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(entries), size=n, replace=n > len(entries))
    return [entries[int(i)] for i in picks]


def write_replay_set(entries: list[CorpusEntry], path: Path, per_anchor: int = 256,
                     seed: int = 0) -> int:
    """Ship ``per_anchor`` corpus entries of each anchor kind as the replay set."""
    rng = np.random.default_rng(seed)
    chosen: list[CorpusEntry] = []
    for anchor in sorted({e.anchor for e in entries}):
        pool = [e for e in entries if e.anchor == anchor]
        chosen += [pool[int(i)] for i in rng.choice(len(pool), min(per_anchor, len(pool)),
                                                    replace=False)]
    payload = {"format": CORPUS_FORMAT, "seed": seed, "per_anchor": per_anchor,
               "entries": [asdict(e) for e in chosen]}
    with gzip.open(path, "wt") as handle:
        json.dump(payload, handle)
    return len(chosen)
