"""The scale figure of a crystal campaign: how many candidates one budget generates, screens
and relaxes onto the hull on this machine.

Runs one real campaign through the command line (``mofgen run --kind crystal``, embedded
store, one gpu worker that generates, screens and retrains, one cpu worker that relaxes)
with the chained generator ``template+pyxtal`` (every prototype substitution of the system,
then pyxtal's random symmetric crystals, endless), then reads the store:

* a timeline: candidates generated, screened (left ``generated`` through the validate
  stage: kept or rejected with a reason) and relaxed, cumulative, per interval;
* the screen's verdicts (validity, duplicates, formation-energy screen);
* the relaxed crystals closest to the campaign's CHGNet hull.

Wall time includes the campaign's start (reference phases built and relaxed). The last
line is ``screened_in_budget=N``.

    python benchmarks/bench_crystal_scale.py [--system Mg-Al-O] [--minutes 30]
        [--generator template+pyxtal] [--batch 64] [--screen-batch 128] [--db DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml


def campaign_config(args: argparse.Namespace) -> dict:
    return {
        "kind": "crystal",
        "resources": {"gpu": 1, "cpu": 1, "mpi": 0},
        "max_waiting_validation": args.max_waiting,
        "seed": args.seed,
        "crystal": {"system": args.system, "generator": args.generator,
                    "candidates_per_batch": args.batch,
                    "screen_batch_size": args.screen_batch},
    }


def run_campaign(args: argparse.Namespace, db_dir: Path) -> tuple[float, int]:
    config = db_dir / "scale.yaml"
    config.write_text(yaml.safe_dump(campaign_config(args)))
    command = [sys.executable, "-m", "mofgen.cli", "run", "--campaign", "scale", "--db",
               str(db_dir / "store"), "--config", str(config), "--minutes", str(args.minutes)]
    t0 = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - t0
    tail = (result.stdout + result.stderr).strip().splitlines()[-6:]
    print("\n".join(f"  run> {line}" for line in tail))
    return wall, result.returncode


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def left_generated(doc: dict) -> dt.datetime | None:
    """When the validate stage finished with the document (kept or rejected)."""
    for entry in doc.get("history", []):
        if entry.get("from") == "generated" and entry.get("to") in ("validated", "rejected"):
            return _aware(entry["time"])
    return None


def relaxed_at(doc: dict) -> dt.datetime | None:
    for entry in doc.get("history", []):
        if entry.get("to") == "simulated":
            return _aware(entry["time"])
    return None


def report(db_dir: Path, args: argparse.Namespace, wall: float) -> str:
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from mofgen.stores.connection import connect

    db = connect(str(db_dir / "store"))
    try:
        campaign = db.campaigns.find_one({"_id": "scale"})
        start = _aware(campaign["created_at"])
        docs = list(db.structures.find(
            {"campaign": "scale"},
            {"created_at": 1, "history": 1, "state": 1, "rejection": 1, "origin": 1,
             "simulate.e_above_hull": 1, "simulate.formation_energy_per_atom": 1,
             "simulate.structure": 1}))
        references = campaign.get("references") or {}
        counters = campaign.get("counters", {})
    finally:
        db.close()

    def minutes(t: dt.datetime | None) -> float | None:
        return None if t is None else (t - start).total_seconds() / 60

    made = [minutes(_aware(d["created_at"])) for d in docs]
    screened = [m for m in (minutes(left_generated(d)) for d in docs) if m is not None]
    relaxed = [m for m in (minutes(relaxed_at(d)) for d in docs) if m is not None]
    last = max([args.minutes, *made, *screened, *relaxed])
    step = max(args.minutes / 6, 1)
    lines = [f"system {args.system}, generator {args.generator}, budget {args.minutes:g} min, "
             f"wall {wall / 60:.1f} min (references: "
             f"{(references.get('meta') or {}).get('build_cpu_seconds', '?')} CPU s)", "",
             "| minutes since the campaign was created (references included) | generated | "
             "screened | relaxed |", "|---|---|---|---|"]
    edge = step
    while edge < last + step:
        lines.append(f"| {edge:.0f} | {sum(m <= edge for m in made)} | "
                     f"{sum(m <= edge for m in screened)} | {sum(m <= edge for m in relaxed)} |")
        edge += step
    by_generator = Counter((d.get("origin") or {}).get("generator", "?") for d in docs)
    verdicts = Counter()
    for d in docs:
        if d["state"] == "rejected":
            r = d.get("rejection") or {}
            verdicts[f"rejected at {r.get('stage')}: {str(r.get('reason'))[:60]}"] += 1
        else:
            verdicts[d["state"]] += 1
    lines += ["", f"by generator: {dict(by_generator)}; proposed "
              f"{counters.get('candidates_proposed', 0)} (duplicates of stored ones are not "
              "stored again)", "", "| state or verdict | documents |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in verdicts.most_common()]
    hull = sorted((d for d in docs if (d.get("simulate") or {}).get("e_above_hull") is not None),
                  key=lambda d: d["simulate"]["e_above_hull"])
    # relaxations of different candidates often end in the same phase: one row per phase
    phases: dict[tuple[str, str], list[dict]] = {}
    for d in hull:
        s = Structure.from_dict(d["simulate"]["structure"])
        try:
            sg = SpacegroupAnalyzer(s, symprec=0.1).get_space_group_symbol()
        except Exception:  # noqa: BLE001 - a symmetry failure only blanks the cell
            sg = "?"
        phases.setdefault((s.composition.reduced_formula, sg), []).append(d)
    lines += ["", f"{len(hull)} relaxed crystals ended in {len(phases)} distinct phases "
              "(formula, space group at symprec 0.1); the lowest:", "",
              "| phase | space group | relaxed into it | E_f (eV/atom) | "
              "E above the references' hull (eV/atom) |", "|---|---|---|---|---|"]
    for (formula, sg), members in list(phases.items())[:12]:
        best = members[0]["simulate"]
        lines.append(f"| {formula} | {sg} | {len(members)} | "
                     f"{best['formation_energy_per_atom']:.3f} | {best['e_above_hull']:+.3f} |")
    on_hull = sum(d["simulate"]["e_above_hull"] <= 1e-6 for d in hull)
    near = sum(d["simulate"]["e_above_hull"] <= 0.1 for d in hull)
    lines += ["", f"generated={len(docs)} screened={len(screened)} relaxed={len(relaxed)} "
              f"on_hull={on_hull} near_hull(<=0.1)={near}",
              f"within {args.minutes:g} min of creation: generated="
              f"{sum(m <= args.minutes for m in made)} relaxed="
              f"{sum(m <= args.minutes for m in relaxed)}",
              f"screened_in_budget={sum(m <= args.minutes for m in screened)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="Mg-Al-O")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--generator", default="template+pyxtal")
    parser.add_argument("--batch", type=int, default=64, help="candidates per generate job")
    parser.add_argument("--screen-batch", type=int, default=128, help="crystals per screen job")
    parser.add_argument("--max-waiting", type=int, default=512,
                        help="generated, not yet screened, before generation waits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", type=Path, default=None, help="keep the store here")
    parser.add_argument("--report-only", action="store_true",
                        help="only read the store in --db")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 600 or args.batch < 1 or args.screen_batch < 1:
        print("bench_crystal_scale: --minutes must be in (0, 600], batches >= 1",
              file=sys.stderr)
        return 2
    db_dir = args.db or Path(tempfile.mkdtemp(prefix="mofgen-crystal-scale-"))
    db_dir.mkdir(parents=True, exist_ok=True)
    wall = 0.0
    if not args.report_only:
        wall, code = run_campaign(args, db_dir)
        if code != 0:
            print(f"bench_crystal_scale: the campaign exited with {code}", file=sys.stderr)
    print(report(db_dir, args, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
