"""CO2 uptake of well-known MOFs at 0.1 bar against published values (calibration).

Runs the campaign's own adsorb calculation (``GcmcAdsorption``: MOFA's UFF + TraPPE CO2
force field, Lorentz-Berthelot, 12.8 Å cutoff, Ewald) on frameworks from RASPA2's structure
library, with the campaign's charge method (``mof.charge_method``, EQeq by default) and,
where the CIF carries them, the CIF's own literature charges. Prints our uptake with
RASPA's block error, the published experimental values with their sources, and the ratios.

The published values are measured isotherms from the NIST/ARPA-E adsorption database
(ISODB, mirrored at github.com/NIST-ISODB/isodb-library), listed with DOI, file and commit
in ``benchmarks/data/published-co2-isodb.json``; the uptake at 0.1 bar is interpolated here
from the two measured points that bracket it. Where several samples were measured, the
table shows their median and range: the spread between labs is part of the comparison.

Uptake is the absolute loading; the published experimental numbers are excess loadings,
which differ by less than 1 % at 0.1 bar. Each framework runs at its reference's
temperature (298 K) unless ``--temperature`` is given; the campaign runs at 300 K.

    python benchmarks/bench_calibration.py [--charges qeq] [--frameworks A,B] [--jobs 2]
        [--cycles N] [--large-cycles N] [--out results.json] [--table-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import median

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pymatgen.core import Structure  # noqa: E402
from pymatgen.io.cif import CifParser  # noqa: E402

from mofgen.engines.charge_methods import CHARGE_METHODS, DEFAULT_METHOD  # noqa: E402
from mofgen.engines.charge_methods import charge_calculation as charge_calculation_for  # noqa: E402,E501
from mofgen.engines.inputs import cif_charges  # noqa: E402
from mofgen.engines.raspa import GcmcAdsorption  # noqa: E402
from mofgen.engines.results import Status  # noqa: E402

# pymatgen warns about every P1 CIF with a one-line symmetry loop (all of RASPA2's library)
warnings.filterwarnings("ignore", message="Issues encountered while parsing CIF")

PRESSURE_BAR = 0.1
# frameworks of RASPA2's share/raspa/structures/cif (file stem) and what they test
FRAMEWORKS: dict[str, str] = {
    "IRMOF-1": "Zn4O carboxylate, no open metal site (MOF-5)",
    "IRMOF-3": "IRMOF-1 with amino-BDC",
    "ZIF-8": "Zn imidazolate, sodalite",
    "MIL-47": "V(IV) terephthalate chains, 1D channels",
    "Cu-BTC": "Cu paddle-wheel, open Cu(II) sites (HKUST-1)",
    "Mg-DOBDC": "open Mg(II) sites (Mg-MOF-74, CPO-27-Mg)",
    "Ni-DOBDC": "open Ni(II) sites (Ni-MOF-74, CPO-27-Ni)",
    "Co-DOBDC": "open Co(II) sites (Co-MOF-74, CPO-27-Co)",
    "Zn-DOBDC": "open Zn(II) sites (Zn-MOF-74, CPO-27-Zn)",
    "MOF-177": "Zn4O, large pores (BTB)",
}
OPEN_METAL_SITES = frozenset({"Cu-BTC", "Mg-DOBDC", "Ni-DOBDC", "Co-DOBDC", "Zn-DOBDC"})
CIF_CHARGES = "cif"  # the charge source that means the CIF's own partial charges


PUBLISHED = Path(__file__).with_name("data") / "published-co2-isodb.json"
CO2_G_PER_MOL = 44.01
# measured amount -> mol/kg (wt% read as g CO2 per 100 g of adsorbent)
TO_MOL_PER_KG = {"mmol/g": 1.0, "mol/kg": 1.0, "mg/g": 1 / CO2_G_PER_MOL,
                 "wt%": 10 / CO2_G_PER_MOL}
TEMPERATURE_WINDOW_K = 5.0  # published isotherms within this of the run's temperature count


@dataclass(frozen=True)
class Reference:
    """One measured CO2 isotherm's uptake at ``pressure_bar``, with where it comes from."""

    framework: str
    value_mol_per_kg: float
    temperature_K: float
    pressure_bar: float
    source: str  # the DOI of the measurement
    where: str  # the ISODB file and commit it was read from
    note: str = ""


def interpolated(isotherm: dict, pressure_bar: float) -> float:
    """Linear interpolation between the measured points that bracket ``pressure_bar``."""
    p0, q0, p1, q1 = (isotherm[k] for k in ("p_low", "q_low", "p_high", "q_high"))
    if not p0 <= pressure_bar <= p1 or p0 == p1:
        raise ValueError(f"{isotherm['isodb_path']}: {pressure_bar} bar is not bracketed")
    q = q0 + (pressure_bar - p0) / (p1 - p0) * (q1 - q0)
    return q * TO_MOL_PER_KG[isotherm["adsorption_units"]]


def load_references(path: Path = PUBLISHED) -> tuple[Reference, ...]:
    data = json.loads(path.read_text())
    return tuple(
        Reference(i["framework"], interpolated(i, PRESSURE_BAR), float(i["temperature_K"]),
                  PRESSURE_BAR, f"doi:{i['doi']}",
                  f"ISODB {i['isodb_path']} @ {i['commit'][:10]}", i.get("note", ""))
        for i in data["isotherms"])


REFERENCES: tuple[Reference, ...] = load_references()


@dataclass(frozen=True)
class KnownLimitation:
    """A published finding on where the generic force field fails, with its source."""

    frameworks: tuple[str, ...]
    finding: str
    source: str


KNOWN_LIMITATIONS: tuple[KnownLimitation, ...] = (
    KnownLimitation(
        ("Mg-DOBDC", "Ni-DOBDC", "Co-DOBDC", "Zn-DOBDC"),
        "generic force fields with fixed point charges underestimate CO2 uptake at low "
        "pressure in M-MOF-74: the open metal site binds CO2 more strongly (polarisation, "
        "partial coordination) than Lennard-Jones + Coulomb can describe; a force field fitted "
        "to ab initio CO2-metal energies is needed",
        "A. L. Dzubak, L.-C. Lin, J. Kim, J. A. Swisher, R. Poloni, S. N. Maximoff, B. Smit, "
        "L. Gagliardi, Nat. Chem. 4 (2012), doi:10.1038/nchem.1432; T. M. Becker, J. Heinen, "
        "D. Dubbeldam, L.-C. Lin, T. J. H. Vlugt, J. Phys. Chem. C 121, 4659-4673 (2017), "
        "doi:10.1021/acs.jpcc.6b12052 (polarizable force field for all ten M-MOF-74)"),
    KnownLimitation(
        ("Cu-BTC", "Mg-DOBDC", "Ni-DOBDC", "Co-DOBDC", "Zn-DOBDC"),
        "simulated CO2 uptake in MOFs with open metal sites depends much more on the framework "
        "charges than in MOFs without them; charges from periodic DFT are more consistent than "
        "cluster-DFT or semi-empirical (charge-equilibration) charges",
        "K. Sladekova, C. Campbell, C. Grant, A. J. Fletcher, J. R. B. Gomes, M. Jorge, "
        "Adsorption, issue 5/2020, doi:10.1007/s10450-019-00187-2 (IRMOF-1, MIL-47, UiO-66, CuBTC, "
        "Co-MOF-74, SIFSIX-2-Cu-i)"),
    KnownLimitation(
        ("Cu-BTC",),
        "residual water coordinated to the Cu sites changes the measured CO2 uptake of HKUST-1 "
        "at 0.1 bar; a dry rigid crystal model is compared with an activated sample of unknown "
        "water content",
        "A. Ö. Yazaydın, A. I. Benin, S. A. Faheem, P. Jakubczak, J. J. Low, R. R. Willis, "
        "R. Q. Snurr, Enhanced CO2 adsorption in metal-organic frameworks via occupation of "
        "open-metal sites by coordinated water molecules, Chem. Mater. 21, 1425-1430 (2009), "
        "doi:10.1021/cm900049x"),
)


def raspa_cif_dir() -> Path:
    """RASPA2's structure library inside the installed package."""
    import RASPA2

    return Path(RASPA2.__file__).parent / "share" / "raspa" / "structures" / "cif"


def framework_cif(name: str) -> Path:
    return raspa_cif_dir() / f"{name}.cif"


def read_framework(name: str) -> tuple[Structure, list[float] | None]:
    """The P1 framework and, if the CIF has non-zero ``_atom_site_charge``, its charges
    (mapped through the site labels, :func:`mofgen.engines.inputs.cif_charges`)."""
    path = framework_cif(name)
    with warnings.catch_warnings():  # every P1 CIF of the library triggers pymatgen notes
        warnings.simplefilter("ignore", UserWarning)
        # MOF-177 lists sites on its 3-fold axes twice: merge them (occupancy 2 -> 1)
        structure = CifParser(path, occupancy_tolerance=3).parse_structures(
            primitive=False)[0]
    charges = cif_charges(path, structure)
    if not charges or not any(abs(q) > 1e-9 for q in charges):
        return structure, None
    return structure, charges


def charge_methods() -> tuple[str, ...]:
    """Charge methods a campaign can use (``mof.charge_method``)."""
    return CHARGE_METHODS


def default_charge_method() -> str:
    """The campaign's default charge method."""
    return DEFAULT_METHOD


def charge_calculation(method: str):
    return charge_calculation_for(method, max_atoms=None)


@dataclass(frozen=True)
class Job:
    framework: str
    charges: str  # a charge method or CIF_CHARGES
    temperature_K: float
    cycles: int
    init_cycles: int

    @property
    def key(self) -> str:
        """A finished run of the same state point is not repeated, whatever its cycles."""
        return run_key(self.framework, self.charges, self.temperature_K)


def run_key(framework: str, charges: str, temperature_K: float) -> str:
    return f"{framework}|{charges}|{temperature_K:g}"


def reference_temperature(framework: str) -> float:
    temps = {r.temperature_K for r in REFERENCES if r.framework == framework}
    return min(temps, key=lambda t: abs(t - 298.0)) if temps else 298.0


def plan(frameworks: list[str], method: str, args: argparse.Namespace) -> list[Job]:
    jobs = []
    for name in frameworks:
        structure, cif_charges = read_framework(name)
        gcmc = GcmcAdsorption(cutoff_A=args.cutoff)
        cells = gcmc.check_size(structure)
        atoms = len(structure) * cells[0] * cells[1] * cells[2]
        large = atoms > args.large_atoms
        cycles = args.large_cycles if large else args.cycles
        init = args.large_init_cycles if large else args.init_cycles
        temperature = args.temperature or reference_temperature(name)
        sources = [method] + ([CIF_CHARGES] if cif_charges and not args.no_cif_charges else [])
        jobs += [Job(name, source, temperature, cycles, init) for source in sources]
    return jobs


def run_job(job: Job, workdir: Path, cutoff: float) -> dict:
    """One GCMC state point; charges computed first unless they come from the CIF."""
    t0 = time.perf_counter()
    structure, cif_charges = read_framework(job.framework)
    wd = workdir / f"{job.framework}-{job.charges}-{job.temperature_K:g}K-{job.cycles}"
    wd.mkdir(parents=True, exist_ok=True)
    row: dict = dataclasses.asdict(job)
    if job.charges == CIF_CHARGES:
        charges = cif_charges
    else:
        qeq = charge_calculation(job.charges).run(structure, wd / "charges")
        row["charge_method"] = qeq.method
        if qeq.status != Status.ok:
            return {**row, "status": "failed", "reason": f"charges: {qeq.reason}"}
        charges = qeq.charges
    row["max_abs_charge_e"] = max(abs(q) for q in charges)
    gcmc = GcmcAdsorption(temperature_K=job.temperature_K, pressure_bar=PRESSURE_BAR,
                          cycles=job.cycles, init_cycles=job.init_cycles, cutoff_A=cutoff,
                          print_every=max(job.cycles // 10, 1))
    result = gcmc.run(structure, wd / "gcmc", charges=charges)
    row.update(status=result.status.value, reason=result.reason,
               uptake_mol_per_kg=result.uptake_mol_per_kg,
               block_error_mol_per_kg=result.uptake_error_mol_per_kg,
               heat_kJ_per_mol=result.heat_of_adsorption_kJ_per_mol,
               unit_cells=list(result.unit_cells), framework_atoms=len(structure),
               software=result.software_version,
               wall_s=round(time.perf_counter() - t0, 1))
    return row


def references(framework: str, temperature_K: float) -> list[Reference]:
    """Published values for ``framework`` measured within the window of ``temperature_K``."""
    return [r for r in REFERENCES if r.framework == framework
            and abs(r.temperature_K - temperature_K) <= TEMPERATURE_WINDOW_K]


def format_table(rows: list[dict]) -> str:
    """Markdown table of our uptakes beside the published ones, then the numbered sources."""
    sources: list[str] = []

    def cite(source: str) -> int:
        if source not in sources:
            sources.append(source)
        return sources.index(source) + 1

    shown: dict[str, list[str]] = {}  # source -> the isotherm files the table used

    def published(refs: list[Reference]) -> str:
        if not refs:
            return "none found"
        values = [r.value_mol_per_kg for r in refs]
        for r in refs:
            files = shown.setdefault(r.source, [])
            if r.where not in files:
                files.append(r.where)
        cites = ",".join(str(cite(src)) for src in dict.fromkeys(r.source for r in refs))
        spread = (f" ({min(values):.2f}–{max(values):.2f}, n={len(values)})"
                  if len(values) > 1 else "")
        temps = "/".join(f"{t:g}" for t in sorted({r.temperature_K for r in refs}))
        return f"{median(values):.2f}{spread} at {temps} K [{cites}]"

    def ratio(value: float | None, refs: list[Reference]) -> str:
        if value is None or not refs:
            return "–"
        values = [r.value_mol_per_kg for r in refs]
        text = f"{value / median(values):.2f}"
        return text + (f" ({value / max(values):.2f}–{value / min(values):.2f})"
                       if len(values) > 1 else "")

    cif_uptake = {r["framework"]: r["uptake_mol_per_kg"] for r in rows
                  if r["charges"] == CIF_CHARGES and r.get("status") == "ok"}
    lines = ["| framework | charges | T (K) | cycles (init) | ours (mol/kg) ± block error | "
             "ours / ours with CIF charges | published exp. (mol/kg): median (range) | "
             "ours / exp. median (range) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["framework"]
        exp = references(name, r["temperature_K"])
        value = r.get("uptake_mol_per_kg") if r.get("status") == "ok" else None
        ours = (f"{value:.3f} ± {r['block_error_mol_per_kg']:.3f}" if value is not None
                else "failed: " + str(r.get("reason")).replace("|", "\\|"))
        vs_cif = (f"{value / cif_uptake[name]:.2f}" if value is not None and name in cif_uptake
                  and r["charges"] != CIF_CHARGES and cif_uptake[name] > 0 else "–")
        oms = " (OMS)" if name in OPEN_METAL_SITES else ""
        lines.append(f"| {name}{oms} | {r['charges']} | {r['temperature_K']:g} | "
                     f"{r['cycles']} ({r['init_cycles']}) | {ours} | {vs_cif} | "
                     f"{published(exp)} | {ratio(value, exp)} |")
    lines.append("")
    names = {r["framework"] for r in rows}
    for limit in KNOWN_LIMITATIONS:
        hit = [f for f in limit.frameworks if f in names]
        if hit:
            lines.append(f"known limitation ({', '.join(hit)}): {limit.finding} "
                         f"[{cite(limit.source)}]")
    lines += [f"[{i}] {source}" + (f" (measured isotherms: {'; '.join(shown[source])})"
                                   if source in shown else "")
              for i, source in enumerate(sources, start=1)]
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """Computed- vs CIF-charge uptakes and, where a published number is known, ours/exp."""
    cif = {r["framework"]: r["uptake_mol_per_kg"] for r in rows
           if r["charges"] == CIF_CHARGES and r.get("status") == "ok"}
    pairs = [(r["framework"], r["uptake_mol_per_kg"] / cif[r["framework"]]) for r in rows
             if r["charges"] != CIF_CHARGES and r.get("status") == "ok"
             and cif.get(r["framework"])]
    out = []
    if pairs:
        text = ", ".join(f"{name} {q:.2f}" for name, q in pairs)
        out.append(f"computed/CIF-charge uptake: median {median(q for _, q in pairs):.2f} "
                   f"({text})")
    for label, keep in (("no open metal sites", lambda n: n not in OPEN_METAL_SITES),
                        ("open metal sites", lambda n: n in OPEN_METAL_SITES)):
        ratios = [r["uptake_mol_per_kg"] / median(ref.value_mol_per_kg for ref in refs)
                  for r in rows if r.get("status") == "ok" and keep(r["framework"])
                  for refs in [references(r["framework"], r["temperature_K"])] if refs]
        if ratios:
            out.append(f"median ours/exp. ({label}): {median(ratios):.2f} over {len(ratios)} "
                       f"runs (range {min(ratios):.2f}–{max(ratios):.2f})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    methods = charge_methods()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charges", default=default_charge_method(),
                        help=f"computed charge method ({', '.join(methods)}; default: the "
                             f"campaign's, {default_charge_method()})")
    parser.add_argument("--no-cif-charges", action="store_true",
                        help="skip the runs with the CIF's own charges")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated RASPA2 structure names (default: all listed)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="K (default: the reference's temperature)")
    parser.add_argument("--cycles", type=int, default=4000)
    parser.add_argument("--init-cycles", type=int, default=1000)
    parser.add_argument("--large-atoms", type=int, default=1500,
                        help="a simulation box with more framework atoms is 'large'")
    parser.add_argument("--large-cycles", type=int, default=2500)
    parser.add_argument("--large-init-cycles", type=int, default=1000)
    parser.add_argument("--cutoff", type=float, default=GcmcAdsorption.cutoff_A, help="Å")
    parser.add_argument("--jobs", type=int, default=1, help="GCMC runs at a time")
    parser.add_argument("--workdir", type=Path, default=None, help="keep RASPA runs here")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON of all runs; finished runs in it are not repeated")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table from --out without running anything")
    args = parser.parse_args(argv)
    problem = _check_args(args, methods)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    done: dict[str, dict] = {}
    if args.out and args.out.exists():
        runs = json.loads(args.out.read_text())["runs"]
        done = {run_key(r["framework"], r["charges"], r["temperature_K"]): r for r in runs}
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    jobs = plan(frameworks, args.charges, args)
    if not args.table_only:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mofgen-bench-calibration-"))
        todo = [j for j in jobs if done.get(j.key, {}).get("status") != "ok"]
        print(f"{len(jobs)} runs ({len(todo)} to do), workdir {workdir}", flush=True)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for row in pool.map(lambda j: run_job(j, workdir, args.cutoff), todo):
                done[run_key(row["framework"], row["charges"], row["temperature_K"])] = row
                print(f"{row['framework']} {row['charges']}: {row.get('uptake_mol_per_kg')} "
                      f"± {row.get('block_error_mol_per_kg')} mol/kg ({row.get('status')}, "
                      f"{row.get('wall_s')} s)", flush=True)
                if args.out:
                    _save(args.out, done)
    rows = [done[j.key] for j in jobs if j.key in done]
    print(f"\nCO2 uptake at {PRESSURE_BAR} bar; ours: RASPA2 absolute loading ± block error "
          "(5 blocks); OMS: open metal site\n")
    print(format_table(rows))
    print(summary(rows))
    return 0


def _check_args(args: argparse.Namespace, methods: tuple[str, ...]) -> str | None:
    if args.charges not in methods:
        return f"unknown charge method {args.charges!r}; available: {', '.join(methods)}"
    unknown = [f for f in args.frameworks.split(",") if f and not framework_cif(f).is_file()]
    if unknown:
        return f"no RASPA2 structure named {', '.join(unknown)} in {raspa_cif_dir()}"
    counts = (args.cycles, args.init_cycles + 1, args.large_cycles, args.large_init_cycles + 1,
              args.jobs)
    if min(counts) < 1:
        return "cycles and --jobs must be positive (init cycles non-negative)"
    if args.table_only and not (args.out and args.out.exists()):
        return "--table-only needs an existing --out file"
    return None


def _save(path: Path, runs: dict[str, dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pressure_bar": PRESSURE_BAR, "runs": list(runs.values())},
                              indent=1))
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
