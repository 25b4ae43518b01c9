"""Generator throughput and the start cost of a crystal campaign's hull, for one system.

For each generator (``template``, ``pyxtal``, ``substitution``) it asks for candidates in
batches from cursor 0, as a campaign's generate tasks do, until ``--seconds`` of CPU time
are spent or the sequence ends, after one warm-up batch (library loading, caches) that is
timed separately. Then it builds the system's reference phases (elements + binaries relaxed
with CHGNet, :func:`mofgen.crystal.references.campaign_references`) with the campaign
defaults. Times are CPU seconds of this process (torch threads included), so a busy machine
does not inflate them; wall seconds are printed beside them. The baseline for the
generators is ``substitution`` measured in the same run.

    python benchmarks/bench_crystal_generators.py [--system Mg-Al-O] [--seconds 60]
        [--batch 8] [--no-references] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def clocks() -> tuple[float, float]:
    return time.process_time(), time.monotonic()


def measure(name: str, config, seconds: float, batch: int) -> dict:
    from mofgen.crystal.generators import generator_for

    generate = generator_for(name)
    cpu0, wall0 = clocks()
    first = generate(config, 0, batch)
    cpu1, wall1 = clocks()
    cursor, made, exhausted = first.cursor, len(first.candidates), first.exhausted
    while not exhausted and time.process_time() - cpu1 < seconds:
        result = generate(config, cursor, batch)
        cursor, exhausted = result.cursor, result.exhausted
        made += len(result.candidates)
    cpu2, wall2 = clocks()
    steady = made - len(first.candidates)
    return {"generator": name, "warmup_cpu_s": cpu1 - cpu0, "candidates": made,
            "cursor": cursor, "exhausted": exhausted, "cpu_s": cpu2 - cpu1,
            "wall_s": wall2 - wall1,
            "per_cpu_minute": 60 * steady / (cpu2 - cpu1) if cpu2 > cpu1 else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="Mg-Al-O")
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU s per generator")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-references", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from mofgen.documents import CampaignConfig

    rows = []
    for name in ("substitution", "template", "pyxtal"):
        config = CampaignConfig.model_validate(
            {"kind": "crystal", "crystal": {"system": args.system, "generator": name,
                                            "substitution_threshold": 1e-5}})
        rows.append(measure(name, config, args.seconds, args.batch))
    base = rows[0]["per_cpu_minute"]
    print(f"system {args.system}, batches of {args.batch}, up to {args.seconds:g} CPU s each")
    print("| generator | warm-up CPU s | candidates | CPU s | wall s | per CPU minute | "
          "vs substitution | ended |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['generator']} | {r['warmup_cpu_s']:.1f} | {r['candidates']} | "
              f"{r['cpu_s']:.1f} | {r['wall_s']:.1f} | {r['per_cpu_minute']:.0f} | "
              f"{r['per_cpu_minute'] / base:.2f}x | {r['exhausted']} |")

    if not args.no_references:
        from mofgen.crystal.references import campaign_references
        from mofgen.kinds.crystal import CrystalSettings

        settings = CrystalSettings(system=args.system)
        cpu0, wall0 = clocks()
        refs = campaign_references(settings)
        cpu1, wall1 = clocks()
        counts = refs.meta["counts"]
        unconverged = sum(1 for e in refs.entries if not e.data.get("converged", True))
        print(f"references of {settings.system}: {len(refs.entries)} phases {counts}, "
              f"{unconverged} not converged in {settings.reference_relax_steps} steps; "
              f"{cpu1 - cpu0:.0f} CPU s, {wall1 - wall0:.0f} wall s")
        print(f"reference_build_cpu_s={cpu1 - cpu0:.0f}")


if __name__ == "__main__":
    main()
