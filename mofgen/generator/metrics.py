"""Quality of a generator version, measured by sampling it (never stored by hand).

Per anchor kind, over ``n`` samples:

* ``validity``: share that the chemistry layer's processing accepts, after stray generated
  atoms not bonded to the anchors are dropped (EDM's largest-fragment rule, see
  :func:`mofgen.generator.sampling.keep_anchored_fragment`); ``validity_raw`` counts only
  samples that needed no such clean-up;
* ``uniqueness``: distinct SMILES / valid;
* ``novelty``: distinct SMILES absent from the training corpus / distinct;
* ``anchor_retention``: valid linkers with exactly the two anchors of the prompt, over
  those that came out chemically sound (valid + rejected only for their anchors);
* ``heavy_atoms``: mean heavy-atom count of the valid linkers (anchors included);
* ``similarity_to_training``: with a ``reference`` (a fine-tuning set), the mean over
  distinct valid samples of their highest Tanimoto similarity (Morgan radius 2, 2048 bits)
  to a reference linker: 1 means copies, low values new chemistry;
* ``screen_pass``: share of (up to ``screen_limit``) valid linkers whose MOF -- Zn
  paddle-wheel pcu, with pyrazine pillars for COO linkers and BDC for cyano pillars --
  assembles and passes the geometric screen (MOFA's question: are the linkers usable?).
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np

from mofgen.chemistry import (
    ProcessedLinker,
    assemble_mof,
    process_smiles,
    screen_structure,
)
from mofgen.errors import MofgenError
from mofgen.generator.linker_list import reference_smiles
from mofgen.generator.model import GeneratorModel
from mofgen.generator.sampling import DEFAULT_STEPS, GeneratedLinker, generate

METRIC_NAMES = ("validity", "validity_raw", "uniqueness", "novelty", "anchor_retention",
                "heavy_atoms", "screen_pass", "similarity_to_training", "seconds_per_linker")
PARTNER = {"COO": ("c1cnccn1", "cyano"), "cyano": ("OC(=O)c1ccc(cc1)C(=O)O", "COO")}


@cache
def _partner(anchor: str) -> ProcessedLinker:
    smiles, kind = PARTNER[anchor]
    return process_smiles(smiles, kind)


def screen_passes(linker: ProcessedLinker) -> bool:
    """Assemble ``linker`` into MOFA's pillared paddle-wheel MOF and run the screen."""
    try:
        if linker.anchor == "COO":
            mof = assemble_mof([linker], pillar=_partner("COO"))
        else:
            mof = assemble_mof([_partner("cyano")], pillar=linker)
        return bool(screen_structure(mof.structure).passed)
    except (MofgenError, ValueError, RuntimeError):
        return False


def summarise(samples: list[GeneratedLinker], screen_limit: int = 16) -> dict[str, float]:
    """Metrics of one anchor kind's samples (see module docstring)."""
    n = len(samples)
    valid = [s for s in samples if s.valid]
    unique = sorted({s.smiles for s in valid if s.smiles})
    reference = reference_smiles()
    two = [s for s in valid if len((s.processed or {}).get("dummy_indices", [])) == 2]
    sound = len(valid) + sum(1 for s in samples if s.rejection == "anchors")
    screened = [s.processed_linker() for s in valid[:screen_limit]]
    passed = [screen_passes(p) for p in screened if p is not None]
    return {
        "samples": float(n),
        "validity": len(valid) / n if n else 0.0,
        "validity_raw": sum(not s.dropped_atoms for s in valid) / n if n else 0.0,
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "novelty": sum(s not in reference for s in unique) / len(unique) if unique else 0.0,
        "anchor_retention": len(two) / sound if sound else 0.0,
        "heavy_atoms": float(np.mean([len(s.symbols) for s in valid])) if valid else 0.0,
        "screen_pass": float(np.mean(passed)) if passed else 0.0,
    }


def similarity_to(smiles: list[str], reference: list[str]) -> float | None:
    """Mean highest Tanimoto similarity of ``smiles`` to ``reference`` (Morgan r=2)."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

    def fingerprints(items: list[str]) -> list:
        mols = (Chem.MolFromSmiles(s) for s in items)
        return [generator.GetFingerprint(m) for m in mols if m is not None]

    ref = fingerprints(reference)
    mine = fingerprints(smiles)
    if not ref or not mine:
        return None
    return float(np.mean([max(DataStructs.BulkTanimotoSimilarity(fp, ref)) for fp in mine]))


def evaluate(model: GeneratorModel, n: int = 64, anchors: list[str] | None = None,
             seed: int = 0, steps: int = DEFAULT_STEPS, screen_limit: int = 16,
             reference: list[str] | None = None) -> dict[str, float]:
    """Sample ``n`` linkers per anchor kind; flat ``{anchor}_{metric}`` numbers."""
    out: dict[str, float] = {}
    for anchor in anchors or model.anchors():
        start = time.perf_counter()
        samples = [s for batch in generate(model, n, anchor, seed=seed, steps=steps)
                   for s in batch]
        seconds = time.perf_counter() - start
        stats = summarise(samples, screen_limit)
        stats["seconds_per_linker"] = seconds / n
        if reference:
            similarity = similarity_to(sorted({s.smiles for s in samples if s.valid
                                               and s.smiles}), reference)
            if similarity is not None:
                stats["similarity_to_training"] = similarity
        out.update({f"{anchor}_{k}": round(v, 4) for k, v in stats.items()})
    return out


def format_metrics(metrics: dict[str, float]) -> str:
    """A small table: one row per anchor kind, one column per metric."""
    anchors = sorted({k.split("_", 1)[0] for k in metrics})
    names = ("samples",) + METRIC_NAMES
    lines = ["anchor  " + "  ".join(f"{n:>12.12}" for n in names)]
    for a in anchors:
        cells = []
        for name in names:
            value = metrics.get(f"{a}_{name}")
            cells.append(f"{value:>12.3f}" if value is not None else f"{'-':>12}")
        lines.append(f"{a:<7} " + "  ".join(cells))
    return "\n".join(lines)
