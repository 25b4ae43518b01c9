"""How reproducible are stability labels, per MD protocol, on MOFs the generator makes?

A campaign learns from lattice strains, so a strain label is useful only if a second MD
run with another velocity seed ranks the structures the same way. For each protocol
variant this runs two seeds on every structure of a fixed set of *generated* MOFs
(``benchmarks/data/generated-mofs``, made by ``--make-structures`` with the shipped
generator, the paddle-wheel assembly and the geometric screen, as a campaign does) and
prints, per variant:

* Spearman rank correlation of the strain between the two seeds, with a bootstrap 95 %
  interval over structures;
* mean |Δstrain| between seeds (dimensionless strain);
* cost per structure (typing + MD, one seed) as a ratio to the ``demo`` variant measured in
  the same run;
* Spearman of the variant's seed-mean strain against the MOFA protocol's strain.

The last line is ``chosen_protocol=<name>``: the cheapest variant whose seed-to-seed
Spearman is at least 0.8, the higher Spearman among equal costs (variants without velocity
randomness are not eligible: a seed does not change them; nor are those read from the first
steps of a longer run, whose cost is not measured). LAMMPS runs one process at a time,
single-threaded.

    python benchmarks/bench_stability_protocol.py [--quick] [--json out.json]
    python benchmarks/bench_stability_protocol.py --make-structures   # rewrite the data set
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pymatgen.core import Structure  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from mofgen.engines.lammps_md import (  # noqa: E402
    NptStability,
    averaged_strain,
    lattice_strain,
    read_cell_samples,
)
from mofgen.engines.results import Status  # noqa: E402

DATA = Path(__file__).parent / "data" / "generated-mofs"
SEEDS = (1_234_567, 7_654_321)
TARGET_SPEARMAN = 0.8
TIGHT_MIN = {"minimize_steps": 10_000, "minimize_evals": 100_000,
             "minimize_etol": 1.0e-10, "minimize_ftol": 1.0e-10}  # MOFA's minimise line


@dataclass
class RunSpec:
    """One MD protocol as run; every run also records the last-frame strain, so a
    protocol read with and without averaging shares its trajectories (and cost)."""

    name: str
    preset: str
    settings: dict[str, Any]
    seeded: bool = True  # False: no initial velocities, every seed gives the same run

    def maker(self, seed: int, scale: float) -> NptStability:
        settings = dict(self.settings)
        steps = settings.get("steps", NptStability.from_preset(self.preset).steps)
        settings["steps"] = max(50, int(round(steps * scale)))
        return NptStability.from_preset(self.preset, seed=seed, frames=2,
                                          reject_strain=10.0, **settings)


@dataclass
class Variant:
    name: str
    run: str  # RunSpec name
    averaged: bool  # the engine's averaged strain, else the last frame's
    note: str = ""
    # Read the run's cell samples up to this step only: LAMMPS on one process follows the
    # same trajectory for the same seed (up to floating-point noise), so this is what a run
    # of `at_step` steps gives. Its cost is not measured: reported, never chosen.
    at_step: int | None = None


AVG = {"average_last_fraction": 0.5}
RUNS = {r.name: r for r in [
    RunSpec("2k", "demo", {"steps": 2000, **AVG}),
    RunSpec("2k+min", "demo", {"steps": 2000, **AVG, **TIGHT_MIN}),
    RunSpec("10k", "demo", {"steps": 10_000, **AVG}),
    RunSpec("mofa", "mofa", {"steps": 10_000}, seeded=False),
    RunSpec("mofa+v", "mofa", {"steps": 10_000, "initial_velocities": True, **AVG}),
]}
# mofa+v (MOFA's input with seeded velocities) is optional: --variants mofa+v@10k,...
VARIANTS = [
    Variant("demo", "2k", False, "today: 2000 steps, 500-step minimise, last frame"),
    Variant("demo+avg", "2k", True, "strain averaged over the last half"),
    Variant("demo+min", "2k+min", False, "MOFA's tight fixed-cell minimise first"),
    Variant("demo+min+avg", "2k+min", True, "tight minimise and averaged"),
    Variant("10k", "10k", False, "10 000 steps, last frame"),
    Variant("10k+avg", "10k", True, "10 000 steps, averaged over the last half"),
    Variant("mofa@10k", "mofa", False,
            "MOFA's input at 10 000 steps; atoms start at rest: no seed, one run"),
    Variant("mofa+v@10k", "mofa+v", False, "MOFA's input + 300 K velocities from the seed"),
    Variant("mofa+v+avg", "mofa+v", True, "... averaged over the last half"),
    Variant("1k", "2k", False, "first 1000 steps of the 2k runs (demo.yaml's md_steps)",
            at_step=1000),
    Variant("1k+avg", "2k", True, "... averaged over steps 500-1000 (samples every 20 steps, "
            "not 10 as a 1000-step run would take)", at_step=1000),
    Variant("5k", "10k", False, "first 5000 steps of the 10k runs", at_step=5000),
    Variant("5k+avg", "10k", True, "... averaged over steps 2500-5000 (samples every 100 "
            "steps, not 50)", at_step=5000),
]
REFERENCE = "mofa@10k"  # 'Spearman vs mofa' compares with this variant's strains
DEFAULT = [v.name for v in VARIANTS if v.run != "mofa+v"]  # fits ~60 min on a shared core


@dataclass
class Run:
    strain: float | None  # as read by the variant (averaged or last frame)
    strain_last: float | None
    cpu_s: float  # CPU seconds of the child processes (typing + LAMMPS)
    wall_s: float
    status: str
    reason: str | None = None
    workdir: str | None = None


@dataclass
class Table:
    runs: dict[str, dict[str, list[Run]]] = field(default_factory=dict)  # run->cif->seeds

    def variant(self, v: Variant, scale: float = 1.0) -> dict[str, list[Run]]:
        if v.at_step is not None:
            step = max(1, int(round(v.at_step * scale)))
            return {name: [_prefix(r, step, v.averaged) for r in runs]
                    for name, runs in self.runs[v.run].items()}
        return {name: [replace(r, strain=r.strain if v.averaged else r.strain_last)
                       for r in runs] for name, runs in self.runs[v.run].items()}


def _prefix(run: Run, step: int, averaged: bool) -> Run:
    """The strain a run of ``step`` steps gives, from this longer run's cell samples."""
    if run.strain is None or not run.workdir:
        return replace(run, strain=None, strain_last=None, cpu_s=math.nan, wall_s=math.nan)
    samples = read_cell_samples(Path(run.workdir) / "cell.dat")
    cell0 = dict(samples)[0]
    upto = [(k, c) for k, c in samples if k <= step]
    if upto[-1][0] != step:
        raise SystemExit(f"no cell sample at step {step} in {run.workdir}")
    last = lattice_strain(cell0, upto[-1][1])
    strain = averaged_strain(cell0, upto, step, 0.5)[0] if averaged else last
    return replace(run, strain=strain, strain_last=last, cpu_s=math.nan, wall_s=math.nan)


# --------------------------------------------------------------------------- structures

def make_structures(out: Path, n: int, base_seed: int = 0, diffusion_steps: int = 50) -> None:
    """Generate ``n`` screened MOFs with the shipped generator, as a campaign's generate
    task does (16 carboxylates + 8 pillars per batch, seeds base_seed, base_seed+1, ...)."""
    import random

    import torch

    from mofgen.chemistry import assemble_mof, screen_structure, structure_hash
    from mofgen.errors import InvalidInput
    from mofgen.generator.registry import shipped_model
    from mofgen.generator.sampling import generate

    torch.set_num_threads(1)
    model = shipped_model()
    out.mkdir(parents=True, exist_ok=True)
    manifest, seen, batch_seed = [], set(), base_seed
    while len(manifest) < n:
        coo = [g for b in generate(model, 16, "COO", batch_seed, diffusion_steps) for g in b]
        pil = [g for b in generate(model, 8, "cyano", batch_seed + 1, diffusion_steps)
               for g in b]
        pillars = [g for g in pil if g.valid]
        rng = random.Random(batch_seed)
        for linker in (g for g in coo if g.valid and pillars):
            pillar = rng.choice(pillars)
            try:
                mof = assemble_mof([linker.processed_linker()],
                                   pillar=pillar.processed_linker(), node="zn_paddlewheel")
            except InvalidInput:
                continue
            if not screen_structure(mof.structure).passed:
                continue
            key = structure_hash(mof.structure)
            if key in seen:
                continue
            seen.add(key)
            name = f"gen-{len(manifest):02d}"
            mof.structure.to(filename=str(out / f"{name}.cif"))
            manifest.append({"name": name, "batch_seed": batch_seed, "n_atoms": len(mof.structure),
                             "formula": mof.structure.composition.reduced_formula,
                             "linker_smiles": linker.smiles, "pillar_smiles": pillar.smiles,
                             "structure_hash": key})
            if len(manifest) == n:
                break
        batch_seed += 2
    (out / "manifest.json").write_text(json.dumps(
        {"generator": model.version, "diffusion_steps": diffusion_steps,
         "node": "zn_paddlewheel", "structures": manifest}, indent=1) + "\n")
    print(f"wrote {n} structures to {out}")


# --------------------------------------------------------------------------- statistics

def rank_values(strains: list[float | None], statuses: list[str]) -> list[float]:
    """Strains for ranking: a run that fell apart ranks as the least stable (inf)."""
    return [math.inf if s is None and st == Status.rejected.value else
            (math.nan if s is None else s) for s, st in zip(strains, statuses)]


def spearman(x: list[float], y: list[float]) -> float:
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    keep = ~(np.isnan(x_arr) | np.isnan(y_arr))
    if keep.sum() < 3:
        return math.nan
    x_arr, y_arr = x_arr[keep], y_arr[keep]
    if np.ptp(np.nan_to_num(x_arr, posinf=1e9)) == 0 or np.ptp(
            np.nan_to_num(y_arr, posinf=1e9)) == 0:
        return math.nan
    return float(spearmanr(np.nan_to_num(x_arr, posinf=1e9),
                           np.nan_to_num(y_arr, posinf=1e9)).statistic)


def bootstrap_ci(x: list[float], y: list[float], n_boot: int = 2000, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile 95 % interval of Spearman, resampling structures with replacement."""
    rng = np.random.default_rng(seed)
    n = len(x)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        r = spearman([x[i] for i in idx], [y[i] for i in idx])
        if not math.isnan(r):
            values.append(r)
    if not values:
        return math.nan, math.nan
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


# --------------------------------------------------------------------------- benchmark

def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_all(cifs: list[Path], specs: list[RunSpec], scale: float, workdir: Path,
            log=print) -> Table:
    table = Table()
    structures = {c.stem: Structure.from_file(c) for c in cifs}
    for spec in specs:
        table.runs[spec.name] = {}
        seeds = SEEDS if spec.seeded else SEEDS[:1]
        for name, s in structures.items():
            runs = []
            for seed in seeds:
                maker = spec.maker(seed, scale)
                cpu0, t0 = _children_cpu(), time.perf_counter()
                r = maker.run(s, workdir / spec.name / f"{name}-{seed}")
                runs.append(Run(r.strain, r.strain_last_frame, _children_cpu() - cpu0,
                                time.perf_counter() - t0, r.status.value, r.reason,
                                r.workdir))
            table.runs[spec.name][name] = runs
            strains = " ".join("-" if x.strain is None else
                               f"{x.strain_last:.4f}/{x.strain:.4f}" for x in runs)
            log(f"  {spec.name:<8} {name}  strain last/avg {strains}  cpu {runs[0].cpu_s:6.1f} s"
                f"  wall {runs[0].wall_s:6.1f} s  {runs[0].status} {runs[0].reason or ''}"[:160],
                flush=True)
    return table


def summarise(table: Table, variants: list[Variant], scale: float = 1.0
              ) -> list[dict[str, Any]]:
    names = sorted(next(iter(table.runs.values())))
    demo_cost = np.mean([r.cpu_s for runs in table.runs[RUNS["2k"].name].values()
                         for r in runs])
    demo_wall = np.mean([r.wall_s for runs in table.runs[RUNS["2k"].name].values()
                         for r in runs])
    by_variant = {v.name: table.variant(v, scale) for v in variants}

    def seed_mean(variant: str) -> list[float]:
        out = []
        for n in names:
            runs = by_variant[variant][n]
            vals = rank_values([r.strain for r in runs], [r.status for r in runs])
            out.append(float(np.mean(vals)))
        return out

    ref = seed_mean(REFERENCE) if REFERENCE in by_variant else None
    rows = []
    for v in variants:
        runs = by_variant[v.name]
        seeded = RUNS[v.run].seeded
        cost = np.mean([r.cpu_s for rs in runs.values() for r in rs]) / demo_cost
        wall = np.mean([r.wall_s for rs in runs.values() for r in rs]) / demo_wall
        row: dict[str, Any] = {"variant": v.name, "run": v.run, "note": v.note,
                               "cost_ratio": float(cost), "wall_ratio": float(wall),
                               "seeded": seeded, "n": len(names)}
        fell_apart = sum(r.status == Status.rejected.value and r.strain is None
                         for rs in runs.values() for r in rs)
        failed = sum(r.status == Status.failed.value for rs in runs.values() for r in rs)
        row.update(fell_apart=fell_apart, failed=failed)
        if seeded:
            a = rank_values([runs[n][0].strain for n in names], [runs[n][0].status for n in names])
            b = rank_values([runs[n][1].strain for n in names], [runs[n][1].status for n in names])
            row["spearman"] = spearman(a, b)
            row["ci95"] = bootstrap_ci(a, b)
            diffs = [abs(x - y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
            row["mean_abs_delta"] = float(np.mean(diffs)) if diffs else math.nan
            stable = [(x < 0.10) == (y < 0.10) for x, y in zip(a, b)
                      if not (math.isnan(x) or math.isnan(y))]
            row["label_agreement"] = float(np.mean(stable)) if stable else math.nan
        else:
            row.update(spearman=math.nan, ci95=(math.nan, math.nan), mean_abs_delta=math.nan,
                       label_agreement=math.nan)
        mean = seed_mean(v.name)
        finite = [x for x in mean if math.isfinite(x)]
        row["median_strain"] = float(np.median(finite)) if finite else math.nan
        row["stable_fraction"] = float(np.mean([x < 0.10 for x in mean if not math.isnan(x)]))
        row["spearman_vs_mofa"] = spearman(mean, ref) if ref is not None else math.nan
        rows.append(row)
    return rows


def choose(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if r["seeded"] and r["spearman"] >= TARGET_SPEARMAN
          and not math.isnan(r["cost_ratio"])]
    if not ok:
        best = max((r for r in rows if r["seeded"]), key=lambda r: r["spearman"])
        return f"none (best {best['variant']}: {best['spearman']:.2f} < {TARGET_SPEARMAN})"
    # variants read from the same runs cost the same: the more reproducible one wins
    return min(ok, key=lambda r: (round(r["cost_ratio"], 2), -r["spearman"]))["variant"]


def format_table(rows: list[dict[str, Any]]) -> str:
    def f(x: float, fmt: str = ".2f") -> str:
        return "n/a" if x is None or math.isnan(x) else format(x, fmt)

    head = (f"{'variant':<13}{'Spearman seeds [95% CI]':<26}{'mean|Δstrain|':>14}"
            f"{'same label':>11}{'cost':>7}{'vs mofa':>9}{'median':>8}{'stable':>8}"
            f"{'fell apart':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        cost = "n/a" if math.isnan(r["cost_ratio"]) else f"{r['cost_ratio']:.2f}x"
        sp = (f"{f(r['spearman'])} [{f(r['ci95'][0])}, {f(r['ci95'][1])}]" if r["seeded"]
              else "no seed: one run")
        lines.append(f"{r['variant']:<13}{sp:<26}{f(r['mean_abs_delta'], '.4f'):>14}"
                     f"{f(r['label_agreement']):>11}{cost:>7}"
                     f"{f(r['spearman_vs_mofa']):>9}{f(r['median_strain'], '.3f'):>8}"
                     f"{f(r['stable_fraction']):>8}{r['fell_apart']:>11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 structures, every variant at 1/10 of its steps")
    parser.add_argument("--structures", type=Path, default=DATA, help="folder of CIFs")
    parser.add_argument("--limit", type=int, default=None, help="use the first N structures")
    parser.add_argument("--variants", default=None,
                        help="comma-separated variants or 'all' (default: all but mofa+v; "
                             "demo and the mofa reference are always run)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep LAMMPS runs here")
    parser.add_argument("--json", type=Path, default=None, help="write all numbers here")
    parser.add_argument("--make-structures", action="store_true",
                        help="regenerate the data set of generated MOFs and exit")
    parser.add_argument("--n-structures", type=int, default=20)
    parser.add_argument("--reanalyse", type=Path, metavar="JSON",
                        help="print the table again from a --json file (and the --workdir "
                             "it ran in) without running anything")
    args = parser.parse_args(argv)
    if args.make_structures:
        make_structures(args.structures, args.n_structures)
        return 0
    if args.reanalyse:
        return reanalyse(args.reanalyse, args.workdir, args.variants, args.json)
    cifs = sorted(args.structures.glob("*.cif"))
    if not cifs:
        print(f"error: no CIFs in {args.structures} (run with --make-structures)",
              file=sys.stderr)
        return 2
    limit = 3 if args.quick and args.limit is None else args.limit
    cifs = cifs[:limit] if limit else cifs
    variants = select_variants(args.variants)
    scale = 0.1 if args.quick else 1.0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mofgen-bench-stability-"))
    print(f"{len(cifs)} generated MOFs from {args.structures}, {len(variants)} variants, "
          f"seeds {SEEDS}, steps x{scale}, workdir {workdir}", flush=True)
    t0 = time.perf_counter()
    specs = [RUNS[name] for name in dict.fromkeys(v.run for v in variants)]
    table = run_all(cifs, specs, scale, workdir)
    print(f"\nwall clock {time.perf_counter() - t0:.0f} s", end="; ")
    report(table, variants, scale, [c.stem for c in cifs], args.json)
    return 0


def select_variants(spec: str | None) -> list[Variant]:
    if spec == "all":
        wanted = {v.name for v in VARIANTS}
    else:
        wanted = set(spec.split(",")) if spec else set(DEFAULT)
    wanted |= {"demo", REFERENCE}
    unknown = wanted - {v.name for v in VARIANTS}
    if unknown:
        raise SystemExit(f"error: unknown variant(s) {sorted(unknown)}")
    return [v for v in VARIANTS if v.name in wanted]


def report(table: Table, variants: list[Variant], scale: float, names: list[str],
           json_path: Path | None) -> str:
    rows = summarise(table, variants, scale)
    chosen = choose(rows)
    print("strain: max |eig| of the symmetric strain (dimensionless); cost: CPU seconds of "
          "typing + MD per structure and seed, ratio to demo (variants read from one run "
          "share its cost; n/a: read from the first steps of a longer run, not measured); "
          "'same label': fraction of structures both seeds put on the same side of 0.10; "
          f"'vs mofa': Spearman of the seed-mean strain against {REFERENCE}\n")
    print(format_table(rows))
    if json_path:
        json_path.write_text(json.dumps({
            "rows": rows, "chosen": chosen, "seeds": SEEDS, "scale": scale,
            "structures": names,
            "runs": {v: {n: [r.__dict__ for r in rs] for n, rs in d.items()}
                     for v, d in table.runs.items()}}, indent=1, default=str))
    print(f"chosen_protocol={chosen}")
    return chosen


def reanalyse(path: Path, workdir: Path | None, spec: str | None, json_out: Path | None
              ) -> int:
    data = json.loads(path.read_text())
    table = Table()
    for run, by_name in data["runs"].items():
        table.runs[run] = {}
        for name, runs in by_name.items():
            table.runs[run][name] = []
            for seed, r in zip(SEEDS, runs):
                if not r.get("workdir") and workdir:
                    r["workdir"] = str(workdir / run / f"{name}-{seed}")
                table.runs[run][name].append(Run(**r))
    variants = [v for v in select_variants(spec) if v.run in table.runs]
    report(table, variants, data["scale"], data["structures"], json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
