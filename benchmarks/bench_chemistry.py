"""Throughput of the generate-stage chemistry on one core.

Prints processed linkers/s and assembled+screened MOFs/s beside MOFA's published numbers
(0.12 s per linker, ~3 s per MOF: 0.46 s assembly + 2.56 s screen, one CPU core), and
against baselines measured in the same run: Open-Babel-only bond perception (MOFA's
processing path) for linkers, PORMAKE assembly of the same nets for MOFs.

    python benchmarks/bench_chemistry.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as MOFA's numbers are per core

import numpy as np  # noqa: E402

from mofgen.chemistry import (  # noqa: E402
    assemble_mof,
    process_linker,
    process_smiles,
    screen_structure,  # noqa: E402
)
from mofgen.chemistry.nodes import get_node  # noqa: E402
from mofgen.chemistry.reticular import assemble_with_pormake  # noqa: E402

MOFA_S_PER_LINKER = 0.12
MOFA_S_PER_MOF = 0.46 + 2.56
LINKERS = {
    "BDC": "OC(=O)c1ccc(cc1)C(=O)O", "BPDC": "OC(=O)c1ccc(cc1)-c1ccc(cc1)C(=O)O",
    "NDC": "OC(=O)c1ccc2cc(ccc2c1)C(=O)O", "TPDC": "OC(=O)c1ccc(cc1)-c1ccc(cc1)-c1ccc(cc1)C(=O)O",
    "NH2-BDC": "Nc1cc(ccc1C(=O)O)C(=O)O", "NO2-BDC": "OC(=O)c1ccc(C(=O)O)c([N+](=O)[O-])c1",
    "CH3-BDC": "Cc1cc(ccc1C(=O)O)C(=O)O",
}
PILLARS = {"pyrazine": "c1cnccn1", "bipy": "c1cc(ccn1)-c1ccncc1", "DABCO": "C1CN2CCN1CC2"}


def raw_inputs(repeat: int) -> list[tuple[list[str], np.ndarray, str]]:
    """Heavy-atom clouds with 0.03 A noise, as a diffusion model would emit them."""
    rng = np.random.default_rng(0)
    items = []
    for smiles, anchor in [(s, "COO") for s in LINKERS.values()] + \
            [(s, "cyano") for s in PILLARS.values()]:
        mol = process_smiles(smiles, anchor).mol()
        heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        pos = mol.GetConformer().GetPositions()[heavy]
        symbols = [mol.GetAtomWithIdx(i).GetSymbol() for i in heavy]
        for _ in range(repeat):
            items.append((symbols, pos + rng.normal(0, 0.03, pos.shape), anchor))
    return items


def rate(fn, items) -> tuple[float, int]:
    start = time.perf_counter()
    ok = sum(1 for item in items if fn(item))
    return len(items) / (time.perf_counter() - start), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    items = raw_inputs(args.repeat)

    def ours(item):
        return process_linker(*item).smiles

    def openbabel_only(item):
        return process_linker(*item, perception=("openbabel",)).smiles

    lin_rate, lin_ok = rate(ours, items)
    ob_rate, _ = rate(openbabel_only, items)

    coo = {k: process_smiles(v, "COO") for k, v in LINKERS.items()}
    pil = {k: process_smiles(v, "cyano") for k, v in PILLARS.items()}
    combos = [(c, p) for c in coo.values() for p in pil.values()]

    def paddlewheel(combo):
        return screen_structure(assemble_mof([combo[0]], pillar=combo[1]).structure).passed

    def irmof(linker):
        return screen_structure(assemble_mof([linker], node="zn4o").structure).passed

    def irmof_pormake(linker):
        return screen_structure(
            assemble_with_pormake(get_node("zn4o"), [linker], "pcu").structure).passed

    pw_rate, pw_ok = rate(paddlewheel, combos * max(1, args.repeat // 2))
    ir_rate, ir_ok = rate(irmof, list(coo.values()) * max(1, args.repeat // 2))
    pm_rate, _ = rate(irmof_pormake, list(coo.values()))

    rows = [
        ("process linker (raw heavy atoms)", lin_rate, 1 / MOFA_S_PER_LINKER, ob_rate,
         "Open Babel-only perception", f"{lin_ok}/{len(items)} valid"),
        ("assemble+screen Zn paddle-wheel pcu", pw_rate, 1 / MOFA_S_PER_MOF, pm_rate,
         "PORMAKE zn4o pcu + screen", f"{pw_ok} passed"),
        ("assemble+screen Zn4O pcu (IRMOF)", ir_rate, 1 / MOFA_S_PER_MOF, pm_rate,
         "PORMAKE zn4o pcu + screen", f"{ir_ok} passed"),
    ]
    print(f"{'task':38s} {'ours /s':>9s} {'MOFA /s':>8s} {'x MOFA':>7s} "
          f"{'baseline /s':>11s} {'x base':>7s}  baseline / note")
    for task, ours_rate, mofa, base, base_name, note in rows:
        print(f"{task:38s} {ours_rate:9.1f} {mofa:8.2f} {ours_rate / mofa:7.1f} "
              f"{base:11.1f} {ours_rate / base:7.2f}  {base_name}; {note}")


if __name__ == "__main__":
    main()
