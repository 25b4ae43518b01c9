"""Does online learning help? Paired campaigns on the same budget, retraining on vs off.

For each seed, two MOF campaigns run side by side (same seed, same config, same machine
share, separate embedded stores): ``on`` retrains the generator on its stable structures
as MOFA does (promotion rules, replay), ``off`` never retrains (``online_learning: false``).
Both are stability-only (``run_simulation: false``): the budget goes to generating and
validating, which is what the stable fraction measures.

The figure of merit is MOFA's: the **stable fraction** — structures whose lattice strain is
below ``stable_strain``, over structures whose strain was measured — counted over the
structures generated after a warm-up (``--warmup`` of the budget, when the ``on`` arm's
first retrained versions exist), so both arms are compared on the same window. Per arm and
seed, and pooled per arm, with 95 % Wilson intervals; the last line is
``stable_fraction_ratio=<on/off>`` (pooled). MOFA reports ~2 (5 % → 11 %).

    python benchmarks/bench_discovery.py [--quick] [--seeds 3] [--minutes 36] [--out DIR]

Improvements to the method run as further arms beside ``on`` and ``off`` (``--arms``), each
a variant of the ``on`` arm's settings (:data:`ARMS`); every arm of a seed runs at the same
time, so all share the machine alike, and each is compared with ``off``.

``--quick`` is a smoke run (one seed, 6 min per arm, ~8 min in all). The default full run
(3 seeds × 36 min, two arms in parallel) takes about 2 h on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mofgen.statistics import wilson_interval
from mofgen.stores.connection import connect

REPO = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((REPO / "mofgen" / "data" / "configs" / "demo.yaml").read_text())


# arm name -> mof settings over the benchmark's base (the ``on`` arm is the product default)
ARMS: dict[str, dict] = {
    "on": {},
    "off": {"online_learning": False},
    # the most stable linkers repeated up to 4x in fine-tuning (flows/retrain.py)
    "on-strain-weighted": {"retrain_weighting": "strain"},
    # prompts and size rule from the campaign's linkers only: generation conditioned on
    # the anchor geometries of stable MOFs
    "on-campaign-prompts": {"retrain_prompts": "campaign"},
    # both
    "on-weighted-prompts": {"retrain_weighting": "strain", "retrain_prompts": "campaign"},
    # a larger replay share: less drift, less learning?
    "on-replay-0.75": {"replay_fraction": 0.75},
}


def arm_config(arm: str, seed: int, variant: dict | None = None) -> dict:
    """The demo campaign, stability-only, with the arm's settings."""
    config = json.loads(json.dumps(BASE))
    config["seed"] = seed
    config["max_waiting_validation"] = 6
    mof = config["mof"]
    mof.update({"run_simulation": False, "retrain_max_minutes": 4.0, "retrain_steps": 200,
                "registration_samples": 64})
    mof["thresholds"].update({"retrain_min_stable": 6})
    mof.update(ARMS[arm])
    mof.update(variant or {})
    return config


def start(out: Path, arm: str, seed: int, minutes: float, variant: dict | None) -> subprocess.Popen:
    folder = out / f"seed{seed}-{arm}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(arm_config(arm, seed, variant)))
    log = open(folder / "run.log", "w")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(
        [sys.executable, "-m", "mofgen.cli", "run", "--db", str(folder / "store"),
         "--campaign", arm, "--config", str(config), "--minutes", str(minutes)],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder)


def measure(out: Path, arm: str, seed: int, warmup: float) -> dict:
    """Counts over the structures generated after the warm-up share of the campaign."""
    db = connect(str(out / f"seed{seed}-{arm}" / "store"), create=False)
    try:
        first = db.structures.find_one({"campaign": arm}, sort=[("created_at", 1)])
        campaign = db.campaigns.find_one({"_id": arm})
        stable_strain = campaign["config"]["mof"]["thresholds"]["stable_strain"]
        runner_start = first["created_at"] if first else campaign["created_at"]
        end = max((d["updated_at"] for d in db.structures.find(
            {"campaign": arm}, {"updated_at": 1})), default=runner_start)
        cut = runner_start + (end - runner_start) * warmup
        late = {"campaign": arm, "created_at": {"$gte": cut}}
        measured = db.structures.count_documents({**late, "validate.strain": {"$gte": 0}})
        stable = db.structures.count_documents(
            {**late, "validate.strain": {"$gte": 0, "$lt": stable_strain}})
        every = db.structures.count_documents({"campaign": arm, "validate.strain": {"$gte": 0}})
        every_stable = db.structures.count_documents(
            {"campaign": arm, "validate.strain": {"$gte": 0, "$lt": stable_strain}})
        versions = list(db.models.find({"campaign": arm, "kind": "generator"},
                                       {"metrics.promoted": 1}))
        learnt = [v["_id"] for v in versions if v["metrics"].get("promoted", 1)]
        by_learnt = {"campaign": arm, "linkers.model_version": {"$in": learnt},
                     "validate.strain": {"$gte": 0}}
        from_learnt = db.structures.count_documents(by_learnt)
        from_learnt_stable = db.structures.count_documents(
            {**by_learnt, "validate.strain": {"$gte": 0, "$lt": stable_strain}})
        fizzled = db.collection("fireworks").count_documents({"state": "FIZZLED"})
    finally:
        db.close()
    return {"arm": arm, "seed": seed, "measured": measured, "stable": stable,
            "all_measured": every, "all_stable": every_stable,
            "versions": len(versions), "from_learnt": from_learnt,
            "from_learnt_stable": from_learnt_stable,
            "promoted": sum(1 for v in versions if v["metrics"].get("promoted", 1)),
            "fizzled": fizzled}


def fraction(stable: int, measured: int) -> str:
    if not measured:
        return "—"
    low, high = wilson_interval(stable, measured)
    return f"{stable / measured:.3f} [{low:.3f}, {high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 6 min per arm")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=36.0, help="budget per campaign")
    parser.add_argument("--warmup", type=float, default=0.4,
                        help="share of the budget before structures are counted")
    parser.add_argument("--arms", default="on,off",
                        help="comma-separated arms, run in parallel per seed "
                             f"(known: {', '.join(ARMS)})")
    parser.add_argument("--variant", default="{}",
                        help="JSON of mof settings for every arm")
    parser.add_argument("--out", help="keep the campaigns here (default: a temporary dir)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: below
    if args.quick:
        args.seeds, args.minutes = 1, 6.0
    if not (1 <= args.seeds <= 20 and 1 <= args.minutes <= 600 and 0 <= args.warmup < 1):
        parser.error("--seeds 1..20, --minutes 1..600, --warmup in [0, 1)")
    variant = json.loads(args.variant)
    arms = args.arms.split(",")
    if "off" not in arms or not set(arms) <= set(ARMS) or len(set(arms)) != len(arms):
        parser.error(f"--arms: distinct names from {', '.join(ARMS)}, including off")
    first = "on" if "on" in arms else next(a for a in arms if a != "off")
    out = Path(args.out or tempfile.mkdtemp(prefix="mofgen-discovery-"))
    started = time.monotonic()
    rows = []
    for seed in range(1, args.seeds + 1):
        runs = [start(out, arm, seed, args.minutes, variant) for arm in arms]
        try:
            for run in runs:
                run.wait()
        finally:  # the campaigns stop with the benchmark (SIGTERM: their graceful stop)
            for run in runs:
                if run.poll() is None:
                    run.terminate()
        rows += [measure(out, arm, seed, args.warmup) for arm in arms]
        print(f"# seed {seed} done after {(time.monotonic() - started) / 60:.1f} min",
              flush=True)

    print(f"\nDiscovery benchmark, {dt.date.today()}: {args.seeds} seed(s) x "
          f"{args.minutes:g} min per arm, {len(arms)} arms in parallel; counted after "
          f"{args.warmup:.0%} of each campaign; variant {variant or 'none'}; {out}")
    print("| arm | seed | versions (promoted) | measured | stable | stable fraction [95 % CI]"
          " | all structures | from retrained versions | FIZZLED |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['arm']} | {r['seed']} | {r['versions']} ({r['promoted']}) | "
              f"{r['measured']} | {r['stable']} | {fraction(r['stable'], r['measured'])} | "
              f"{fraction(r['all_stable'], r['all_measured'])} | "
              f"{fraction(r['from_learnt_stable'], r['from_learnt'])} "
              f"(n={r['from_learnt']}) | {r['fizzled']} |")
    pooled = {}
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm]
        stable, measured = sum(r["stable"] for r in mine), sum(r["measured"] for r in mine)
        learnt = sum(r["from_learnt"] for r in mine)
        learnt_stable = sum(r["from_learnt_stable"] for r in mine)
        pooled[arm] = stable / measured if measured else 0.0
        print(f"| {arm} | pooled | | {measured} | {stable} | {fraction(stable, measured)} | | "
              f"{fraction(learnt_stable, learnt)} (n={learnt}) | |")
    print(f"\nwall time {(time.monotonic() - started) / 60:.1f} min")
    for arm in arms:
        if arm not in ("off", first):
            print(f"{arm}: stable fraction ratio to off "
                  f"{pooled[arm] / pooled['off'] if pooled['off'] else float('nan'):.3f}")
    ratio = pooled[first] / pooled["off"] if pooled["off"] else float("nan")
    print(f"stable_fraction_ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
