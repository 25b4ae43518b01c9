"""Cost of the linker generator on one CPU core: sampling, fine-tuning, pretraining.

Prints linkers/s sampled by the shipped checkpoint (raw, and including the chemistry
layer's processing) beside MOFA's 0.37 s per linker on a GPU, fine-tuning seconds per 100
training molecules, and the projected time of a full pretraining run; every time is also
given as a ratio to a baseline measured in the same run (processing one corpus linker), so
numbers from different machines can be compared.

    python benchmarks/bench_generator.py [--n 64] [--steps 100] [--finetune 100]
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mofgen.chemistry import process_linker  # noqa: E402
from mofgen.generator.checkpoints import shipped_model  # noqa: E402
from mofgen.generator.corpus import build_corpus, load_corpus  # noqa: E402
from mofgen.generator.sampling import generate  # noqa: E402
from mofgen.generator.training import TrainConfig, finetune, pretrain  # noqa: E402

MOFA_S_PER_LINKER_GPU = 0.37


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="linkers sampled per anchor kind")
    parser.add_argument("--steps", type=int, default=100, help="reverse-diffusion steps")
    parser.add_argument("--finetune", type=int, default=100, help="fine-tuning molecules")
    parser.add_argument("--pretrain-epochs", type=float, default=30.0,
                        help="epochs of the pretraining run to project")
    args = parser.parse_args()
    torch.set_num_threads(1)
    entries = load_corpus(build_corpus()["path"])
    rng = np.random.default_rng(0)
    pick = [entries[i] for i in rng.permutation(len(entries))]

    start = time.perf_counter()
    for e in pick[:40]:
        process_linker(e.symbols, e.positions, e.anchor)
    baseline = (time.perf_counter() - start) / 40

    model = shipped_model()
    rows = [("baseline: process one corpus linker", baseline, "s/linker")]
    for anchor in ("COO", "cyano"):
        for process in (False, True):
            start = time.perf_counter()
            done = sum(len(b) for b in generate(model, args.n, anchor, seed=1, steps=args.steps,
                                                process=process))
            per = (time.perf_counter() - start) / done
            label = f"sample {anchor} ({args.steps} steps{', + processing' if process else ''})"
            rows.append((label, per, "s/linker"))

    tune = pick[:args.finetune]
    _, stats = finetune(model, tune, TrainConfig(epochs=1, batch_size=32, lr=3e-4))
    rows.append(("fine-tune (1 epoch, batch 32)", stats["seconds_per_100_molecules"],
                 "s/100 molecules"))
    _, probe = pretrain(pick[:320], TrainConfig(epochs=1, batch_size=32), model.hyperparameters)
    projected = probe["seconds_per_100_molecules"] / 100 * len(entries) * args.pretrain_epochs
    rows.append((f"pretrain projection ({len(entries)} molecules x {args.pretrain_epochs:g} "
                 "epochs)", projected / 60, "min"))

    print(f"{'measurement':<52} {'value':>10}  {'unit':<16} {'/ baseline':>10}")
    for label, value, unit in rows:
        ratio = "" if unit == "min" else f"{value / baseline:10.1f}"
        print(f"{label:<52} {value:>10.3f}  {unit:<16} {ratio:>10}")
    raw = [v for label, v, _ in rows if label.startswith("sample") and "processing" not in label]
    print(f"\nraw sampling: {1 / np.mean(raw):.2f} linkers/s on one CPU core "
          f"(MOFA: {1 / MOFA_S_PER_LINKER_GPU:.2f} linkers/s, 0.37 s/linker on a GPU; "
          f"ratio {MOFA_S_PER_LINKER_GPU / np.mean(raw):.2f}x)")


if __name__ == "__main__":
    main()
