"""Screening throughput: batched CHGNet inference against one structure per call.

The same candidate set (Li-Fe-O substitution candidates plus all shipped prototypes,
each copy rattled by a seeded random displacement so no two graphs are identical) is
scored first one structure per ``predict_structure`` call (the baseline), then in batches
of several sizes, in the same process after one warm-up call. Prints structures/s, the
ratio to the baseline and the largest energy difference (batched must equal single).
``--repeat-cell`` scores supercells instead, to see how the gain depends on cell size.
On a CPU most of the time is the model's arithmetic (linear layers over edges), which
batching does not reduce; batching removes the per-call overhead, so expect ~1.2-1.4x
here and more on a GPU, where one large batch fills the device.

    python benchmarks/bench_crystal_screen.py [--n 96] [--batch-sizes 8,32,96]
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
    parser.add_argument("--batch-sizes", default="8,32,96")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (best kept)")
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

    def best_of(fn):  # the fastest of --repeat runs: least disturbed by other load
        times, result = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        return min(times), result

    t_single, single = best_of(lambda: energy.predict_energies_one_by_one(structures, model=model))
    rows = [("one at a time", 1, t_single, 0.0)]
    for b in (int(x) for x in args.batch_sizes.split(",")):
        t, batched = best_of(lambda b=b: energy.predict_energies(structures, batch_size=b,
                                                                  model=model))
        rows.append(("batched", b, t, float(np.abs(batched - single).max())))

    print(f"CHGNet {model.version} single points, {len(structures)} structures "
          f"({atoms} atoms, {atoms / len(structures):.1f} per structure), "
          f"{args.threads} torch thread(s), best of {args.repeat}")
    print(f"{'mode':<14} {'batch':>5} {'seconds':>8} {'structures/s':>13} {'ratio':>6} "
          f"{'max |dE| eV/atom':>17}")
    for mode, b, t, de in rows:
        print(f"{mode:<14} {b:>5} {t:>8.2f} {len(structures) / t:>13.1f} "
              f"{t_single / t:>6.2f} {de:>17.1e}")


if __name__ == "__main__":
    main()
