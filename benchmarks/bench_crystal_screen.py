"""Screening throughput: the batched CHGNet screen against one structure per call.

The same candidate set (Li-Fe-O substitution candidates plus all shipped prototypes,
each copy rattled by a seeded random displacement so no two graphs are identical) is
scored by every arm in the same process after one warm-up call:

* ``one at a time`` — one ``CHGNet.predict_structure`` call per structure: the baseline;
* ``predict_structure batched`` — CHGNet's own list call (what the screen used before);
* ``graphs once, sorted`` — :func:`mofgen.crystal.energy.predict_energies`, the screen:
  each graph built once, graphs sorted by size into batches, forward passes without
  autograd; at several batch sizes. Batch 1 of it separates what batching adds from what
  dropping autograd adds. ``graphs only`` times the graph building alone, the part no
  batching removes.

Arms run interleaved (``--repeat`` rounds, best time of each kept), so load from other
processes falls on all of them alike; the ratio is baseline time / arm time. The last
line prints the ratio of the screen at its default batch size. Every arm's energies are
compared with the baseline's (max |dE| must be float32 rounding).

    nice -n 19 python benchmarks/bench_crystal_screen.py [--n 96] [--batch-sizes 1,8,16,32,64]
        [--threads 1] [--repeat 3] [--repeat-cell 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mofgen.crystal import energy  # noqa: E402
from mofgen.crystal.generate import candidates  # noqa: E402
from mofgen.crystal.prototypes import prototypes  # noqa: E402


def structure_set(n: int) -> list:
    base = [c.structure for c in candidates("Li-Fe-O")] + [p.structure for p in prototypes()]
    return [base[i % len(base)].copy().perturb(0.05, min_distance=0.01, seed=i)
            for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=96, help="structures to score")
    parser.add_argument("--batch-sizes", default="1,8,16,32,64")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (all arms)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--repeat-cell", type=int, default=1,
                        help="score NxNxN supercells (default 1: primitive cells)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    structures = structure_set(args.n)
    if args.repeat_cell > 1:
        structures = [s.make_supercell([args.repeat_cell] * 3) for s in structures]
    atoms = sum(len(s) for s in structures)
    model = energy.load_model()
    energy.predict_energies(structures[:2], model=model)  # warm-up (lazy init, allocator)
    energy.predict_energies_one_by_one(structures[:2], model=model)

    sizes = [int(x) for x in args.batch_sizes.split(",")]
    arms: dict[str, tuple[int, object]] = {
        "one at a time": (1, lambda: energy.predict_energies_one_by_one(structures,
                                                                          model=model)),
        "graphs only": (0, lambda: energy.build_graphs(structures, model)),
        "predict_structure batched": (16, lambda: np.array([
            float(p["e"]) for p in model.predict_structure(structures, task="e",
                                                           batch_size=16)])),
    }
    for b in sizes:
        arms[f"graphs once, sorted {b}"] = (b, lambda b=b: energy.predict_energies(
            structures, batch_size=b, model=model))
    best: dict[str, float] = {}
    results: dict[str, object] = {}
    for _ in range(args.repeat):
        for name, (_, fn) in arms.items():
            t0 = time.perf_counter()
            results[name] = fn()
            best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)

    baseline = np.asarray(results["one at a time"])
    t_single = best["one at a time"]
    print(f"CHGNet {model.version} single points, {len(structures)} structures "
          f"({atoms} atoms, {atoms / len(structures):.1f} per structure), "
          f"{args.threads} torch thread(s), best of {args.repeat} interleaved rounds")
    print(f"{'arm':<28} {'batch':>5} {'seconds':>8} {'structures/s':>13} {'ratio':>6} "
          f"{'max |dE| eV/atom':>17}")
    for name, (b, _) in arms.items():
        t = best[name]
        de = ("" if name == "graphs only" else
              f"{float(np.abs(np.asarray(results[name]) - baseline).max()):.1e}")
        print(f"{name:<28} {b or '-':>5} {t:>8.2f} {len(structures) / t:>13.1f} "
              f"{t_single / t:>6.2f} {de:>17}")
    default = f"graphs once, sorted {energy.BATCH_SIZE}"
    if default in best:
        print(f"batched screen (batch {energy.BATCH_SIZE}) / one at a time: "
              f"{t_single / best[default]:.2f}x throughput")


if __name__ == "__main__":
    main()
