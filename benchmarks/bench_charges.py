"""Charge methods against literature charges: per-atom error and what it does to CO2 uptake.

The frameworks of RASPA2's structure library that carry non-zero literature charges
(Cu-BTC, MIL-47, Co/Ni/Zn-DOBDC, MOF-177, MOF-200, MIL-100, MIL-101; Mg-DOBDC's charge
column is all zero there) are the reference. Per charge method (EQeq, QEq, DFT/DDAPC):

* per-atom MAE against the CIF's charges, by element, and the mean charge and sign
  agreement on the metal, O and N;
* RASPA2 GCMC CO2 uptake at 0.1 bar, 300 K (the project's ``GcmcAdsorption``: UFF, TraPPE,
  Ewald) with the method's charges against the same with the CIF's own charges:
  Spearman rank correlation, median uptake ratio, worst cases.

Every result is cached as JSON in ``--cache`` as soon as it exists, so an interrupted run
resumes where it stopped and ``--report`` prints the table of whatever is done. DFT
(CP2K DDAPC) runs only on cells up to ``--dft-max-atoms`` atoms.

    python benchmarks/bench_charges.py [--methods eqeq,qeq,dft] [--jobs 2] [--report]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser

from mofgen.engines.charges import ChargeEquilibration
from mofgen.engines.cp2k_charges import Cp2kCharges
from mofgen.engines.eqeq import EqeqCharges
from mofgen.engines.inputs import cif_charges
from mofgen.engines.raspa import GcmcAdsorption

# name in the table -> file in RASPA2's share/raspa/structures/cif
FRAMEWORKS = {
    "MIL-47": "MIL-47.cif",
    "Co-DOBDC": "Co-DOBDC.cif",
    "Ni-DOBDC": "Ni-DOBDC.cif",
    "Zn-DOBDC": "Zn-DOBDC.cif",
    "Cu-BTC": "Cu-BTC.cif",
    "MOF-177": "MOF-177.cif",
    "MOF-200": "MOF-200.cif",
    "MIL-100": "MIL-100-primitive.cif",
    "MIL-101": "MIL-101-primitive.cif",
}
METHODS = ("eqeq", "qeq", "dft")
METALS = {"Cu", "Zn", "Co", "Ni", "Mg", "V", "Cr", "Fe", "Al", "Zr"}


def raspa_library() -> Path:
    import RASPA2

    return Path(RASPA2.__file__).parent / "share" / "raspa" / "structures" / "cif"


def load(name: str) -> tuple[Structure, np.ndarray]:
    """The framework as RASPA lists it and its literature charges (neutralised)."""
    path = raspa_library() / FRAMEWORKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # MOF-177 lists sites on the 3-fold axis twice: merge them (occupancy 2 -> 1)
        structure = CifParser(str(path), occupancy_tolerance=3).parse_structures(
            primitive=False)[0]
    charges = np.array(cif_charges(path, structure))
    return structure, charges - charges.mean()


def _save(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def charge_task(name: str, method: str, cache: str) -> str:
    out = Path(cache) / f"charges-{name}-{method}.json"
    if out.exists():
        return f"{name} {method}: cached"
    structure, _ = load(name)
    calc = {"eqeq": EqeqCharges(max_atoms=None), "qeq": ChargeEquilibration(max_atoms=None),
            "dft": Cp2kCharges(max_atoms=None)}[method]
    work = Path(cache) / "work" / f"{name}-{method}"
    result = calc.run(structure, work)
    _save(out, {"status": result.status.value, "reason": result.reason,
                "charges": result.charges, "wall_time_s": result.wall_time_s,
                "method": result.method, "tool": result.tool})
    return f"{name} {method}: {result.status.value} in {result.wall_time_s:.0f} s"


def gcmc_task(name: str, source: str, cache: str, cycles: int) -> str:
    out = Path(cache) / f"gcmc-{name}-{source}.json"
    if out.exists():
        return f"{name} gcmc/{source}: cached"
    lock = out.with_suffix(".lock")  # another run of this script is on it (remove if stale)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return f"{name} gcmc/{source}: running elsewhere ({lock} exists)"
    try:
        return _gcmc(name, source, out, cache, cycles)
    finally:
        lock.unlink(missing_ok=True)


def _gcmc(name: str, source: str, out: Path, cache: str, cycles: int) -> str:
    structure, reference = load(name)
    if source == "cif":
        charges = reference
    else:
        data = json.loads((Path(cache) / f"charges-{name}-{source}.json").read_text())
        if data["status"] != "ok":
            return f"{name} gcmc/{source}: no charges ({data['reason']})"
        charges = np.array(data["charges"])
    calc = GcmcAdsorption(cycles=cycles, max_atoms=None, print_every=max(cycles, 1))
    work = Path(cache) / "work" / f"{name}-gcmc-{source}"
    t0 = time.perf_counter()
    result = calc.run(structure, work, charges=[float(q) for q in charges])
    _save(out, {"status": result.status.value, "reason": result.reason,
                "uptake_mol_per_kg": result.uptake_mol_per_kg,
                "error_mol_per_kg": result.uptake_error_mol_per_kg, "cycles": cycles,
                "unit_cells": result.unit_cells, "wall_time_s": time.perf_counter() - t0})
    return f"{name} gcmc/{source}: {result.status.value} {result.uptake_mol_per_kg}"


def cycles_for(name: str, args: argparse.Namespace) -> int:
    structure, _ = load(name)
    cells = GcmcAdsorption(max_atoms=None).check_size(structure)
    atoms = len(structure) * cells[0] * cells[1] * cells[2]
    return args.large_cycles if atoms > args.large_atoms else args.cycles


def run(args: argparse.Namespace) -> None:
    cache = Path(args.cache)
    (cache / "work").mkdir(parents=True, exist_ok=True)
    names = args.frameworks
    dft_names = [n for n in names if len(load(n)[0]) <= args.dft_max_atoms]
    charge_jobs = [(n, m) for n in names for m in args.methods
                   if m != "dft" or n in dft_names]
    for n, m in charge_jobs:  # cheap ones (EQeq, QEq) first; one at a time (LAMMPS, CP2K)
        if m != "dft":
            print(charge_task(n, m, str(cache)), flush=True)
    # the reference and the first method on every framework before the other methods, so
    # that an interrupted run still compares one method everywhere
    sources = ["cif", *[m for m in args.methods if m != "dft"]]
    gcmc_jobs = [(n, s) for n in names for s in sources[:2]] + \
        [(n, s) for s in sources[2:] for n in names]
    dft_jobs = [(n, "dft") for n in dft_names if "dft" in args.methods]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(gcmc_task, n, s, str(cache), cycles_for(n, args))
                   for n, s in gcmc_jobs]
        if dft_jobs:
            futures.append(pool.submit(_dft_then_gcmc, dft_jobs, str(cache),
                                       {n: cycles_for(n, args) for n, _ in dft_jobs}))
        for future in as_completed(futures):
            print(future.result(), flush=True)


def _dft_then_gcmc(jobs: list[tuple[str, str]], cache: str, cycles: dict[str, int]) -> str:
    lines = []
    for name, _ in jobs:
        lines.append(charge_task(name, "dft", cache))
        lines.append(gcmc_task(name, "dft", cache, cycles[name]))
    return "\n".join(lines)


# ------------------------------------------------------------------------- report
def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def spearman(x: list[float], y: list[float]) -> float:
    def ranks(v: list[float]) -> np.ndarray:
        order = np.argsort(v)
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        return r

    if len(x) < 3:
        return float("nan")
    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def report(args: argparse.Namespace) -> str:
    cache = Path(args.cache)
    rows, per_element, site_rows, uptake_rows, summary = [], [], [], [], {}
    for method in args.methods:
        errors, pairs, missing = [], [], []
        by_element: dict[str, list[float]] = {}
        for name in args.frameworks:
            data = _read(cache / f"charges-{name}-{method}.json")
            if not data or data["status"] != "ok":
                missing.append(name + ("" if data is None else " (failed)"))
                continue
            structure, ref = load(name)
            q = np.array(data["charges"])
            err = np.abs(q - ref)
            errors.append(float(err.mean()))
            symbols = np.array([s.specie.symbol for s in structure])
            for el in sorted(set(symbols)):
                by_element.setdefault(el, []).extend(err[symbols == el].tolist())
                if el in METALS or el in ("O", "N"):
                    m = symbols == el
                    same_sign = float(np.mean(np.sign(q[m]) == np.sign(ref[m])))
                    site_rows.append(f"| {method} | {name} | {el} | {q[m].mean():+.3f} | "
                                     f"{ref[m].mean():+.3f} | {same_sign:.0%} |")
            ref_up = _read(cache / f"gcmc-{name}-cif.json")
            up = _read(cache / f"gcmc-{name}-{method}.json")
            if ref_up and up and ref_up["status"] == up["status"] == "ok":
                pairs.append((name, up["uptake_mol_per_kg"], ref_up["uptake_mol_per_kg"],
                              up["error_mol_per_kg"], ref_up["error_mol_per_kg"]))
                uptake_rows.append(
                    f"| {method} | {name} | {up['uptake_mol_per_kg']:.3f} ± "
                    f"{up['error_mol_per_kg']:.3f} | {ref_up['uptake_mol_per_kg']:.3f} ± "
                    f"{ref_up['error_mol_per_kg']:.3f} | "
                    f"{up['uptake_mol_per_kg'] / ref_up['uptake_mol_per_kg']:.2f} | "
                    f"{up['cycles']} |")
        mae = float(np.mean(np.concatenate([np.array(v) for v in by_element.values()]))) \
            if by_element else float("nan")
        ratios = [p[1] / p[2] for p in pairs]
        rho = spearman([p[1] for p in pairs], [p[2] for p in pairs])
        median = statistics.median(ratios) if ratios else float("nan")
        worst = sorted(pairs, key=lambda p: -abs(math.log(p[1] / p[2])))[:2]
        worst_text = ", ".join(f"{p[0]} {p[1] / p[2]:.2f}" for p in worst) or "-"
        summary[method] = {"mae": mae, "rho": rho, "median": median, "n": len(pairs)}
        rows.append(f"| {method} | {len(errors)} | {mae:.3f} | "
                    f"{np.mean(errors) if errors else float('nan'):.3f} | {len(pairs)} | "
                    f"{rho:.2f} | {median:.2f} | {worst_text} | "
                    f"{', '.join(missing) or '-'} |")
        per_element.append(f"| {method} | " + ", ".join(
            f"{el} {np.mean(v):.3f}" for el, v in sorted(by_element.items())) + " |")
    out = [
        "| method | frameworks | per-atom MAE (e) | mean of per-framework MAE (e) | "
        "uptake pairs | Spearman | median ratio | worst ratios | not done |",
        "|---|---|---|---|---|---|---|---|---|", *rows, "",
        "| method | per-atom MAE by element (e) |", "|---|---|", *per_element, "",
        "| method | framework | site | mean q (e) | CIF mean q (e) | same sign |",
        "|---|---|---|---|---|---|", *site_rows, "",
        "| method | framework | CO2 uptake (mol/kg) | with CIF charges (mol/kg) | ratio | "
        "cycles |", "|---|---|---|---|---|---|", *uptake_rows, "",
    ]
    cheap = {m: s for m, s in summary.items() if m in ("eqeq", "qeq") and s["n"]}
    if len(cheap) == 2:
        def score(s: dict) -> tuple:
            return (-s["rho"], abs(math.log(s["median"])), s["mae"])

        best = min(cheap, key=lambda m: score(cheap[m]))
        out.append(f"default cheap method by (Spearman, |log median ratio|, MAE): {best}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated names (default: all)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--cycles", type=int, default=400,
                        help="GCMC production (= initialisation) cycles")
    parser.add_argument("--large-cycles", type=int, default=200,
                        help="cycles when the simulated box holds more than --large-atoms")
    parser.add_argument("--large-atoms", type=int, default=2000)
    parser.add_argument("--dft-max-atoms", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "mofgen" /
                                               "bench_charges"))
    parser.add_argument("--report", action="store_true", help="only print the tables")
    args = parser.parse_args(argv)
    args.frameworks = [n for n in args.frameworks.split(",") if n]
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = [n for n in args.frameworks if n not in FRAMEWORKS] + \
        [m for m in args.methods if m not in METHODS]
    if unknown:
        print(f"bench_charges: unknown framework or method: {', '.join(unknown)}",
              file=sys.stderr)
        return 2
    if not args.report:
        run(args)
    print(report(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
