"""Per-stage cost of the simulation engines on one core, beside MOFA's Table I.

Runs every engine once on a structure (default: hMOF-0, the IRMOF-1 analogue) with every
child process pinned to one thread, and prints seconds per structure, normalised rates
(MD per 10 000 steps, GCMC per 1 000 cycles) and the ratio to a numpy baseline measured
in the same run, so that numbers from different machines can be compared.

    python benchmarks/bench_engines.py [--cif FILE] [--md-steps N] [--gcmc-cycles N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pymatgen.core import Structure  # noqa: E402

from mofgen.engines.charges import ChargeEquilibration  # noqa: E402
from mofgen.engines.chgnet_relax import ChgnetRelaxation  # noqa: E402
from mofgen.engines.lammps_md import NptStability  # noqa: E402
from mofgen.engines.raspa import GcmcAdsorption  # noqa: E402
from mofgen.engines.uff_typing import type_structure  # noqa: E402
from mofgen.engines.zeopp import PoreAnalysis  # noqa: E402

HMOF0 = "/work/shared/reference/hmof/hMOF-0.cif"
# MOFA Table I (450-node Polaris run): task, code, resource, seconds per structure
MOFA = {
    "typing": ("cif2lammps", "0.5 GPU", 19.98),
    "md": ("LAMMPS, 1e6 steps", "0.5 GPU", 204.52),
    "relax": ("CP2K", "2 nodes", 1517.53),
    "charges": ("Chargemol (DDEC6)", "1 CPU", 211.78),
    "zeo": ("-", "-", None),
    "gcmc": ("RASPA", "1 CPU", 1892.89),
}


def baseline_s() -> float:
    """Seconds for a fixed numpy workload (one thread): the yardstick for ratios."""
    rng = np.random.default_rng(0)
    a = rng.random((400, 400))
    t0 = time.perf_counter()
    for _ in range(20):
        a = np.tanh(a @ a.T / 400.0)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cif", default=None, help="structure (default hMOF-0)")
    parser.add_argument("--md-steps", type=int, default=10_000)
    parser.add_argument("--relax-steps", type=int, default=50)
    parser.add_argument("--gcmc-cycles", type=int, default=500,
                        help="production cycles (same number of initialisation cycles)")
    args = parser.parse_args()
    cif = args.cif or HMOF0
    s = Structure.from_file(str(cif))
    work = Path(tempfile.mkdtemp(prefix="mofgen-bench-"))
    base = baseline_s()
    rows: list[tuple[str, float, str]] = []

    t0 = time.perf_counter()
    typed = type_structure(s, work / "typing")
    rows.append(("typing", time.perf_counter() - t0, f"{typed.n_atoms} atoms in supercell"))

    md = NptStability(steps=args.md_steps).run(s, work / "md")
    per10k = md.timings_s["md"] * 10_000 / args.md_steps
    rows.append(("md", per10k, f"per 10k steps, {md.n_atoms_md} atoms, "
                 f"{per10k / md.n_atoms_md * 1e3:.2f} ms/atom; strain {md.strain:.3f}"))

    relax = ChgnetRelaxation(steps=args.relax_steps).run(s, work / "relax")
    rows.append(("relax", relax.wall_time_s, f"CHGNet {relax.n_steps} steps, {len(s)} atoms "
                 f"(incl. ~6 s start-up)"))

    q = ChargeEquilibration().run(s, work / "charges")
    rows.append(("charges", q.wall_time_s, "LAMMPS QEq"))

    zeo = PoreAnalysis().run(s, work / "zeo")
    rows.append(("zeo", zeo.wall_time_s, f"LCD {zeo.lcd_A:.1f} Å, PLD {zeo.pld_A:.1f} Å"))

    gcmc = GcmcAdsorption(cycles=args.gcmc_cycles).run(s, work / "gcmc", charges=q.charges)
    per1k = gcmc.wall_time_s * 1000 / (2 * args.gcmc_cycles)
    rows.append(("gcmc", per1k, f"per 1000 cycles, {'x'.join(map(str, gcmc.unit_cells))} cells;"
                 f" CO2 {gcmc.uptake_mol_per_kg:.3f} ± {gcmc.uptake_error_mol_per_kg:.3f} mol/kg"))

    print(f"structure: {cif} ({len(s)} atoms); baseline (numpy) {base:.3f} s; work dir {work}")
    head = f"{'stage':8} {'s (1 core)':>11} {'/baseline':>10}  {'MOFA code':18} {'resource':9}"
    print(head + f" {'MOFA s':>8}  notes")
    print("-" * (len(head) + 40))
    for stage, sec, note in rows:
        code, res, ref = MOFA[stage]
        ref_s = f"{ref:8.1f}" if ref is not None else f"{'-':>8}"
        print(f"{stage:8} {sec:11.2f} {sec / base:10.1f}  {code:18} {res:9} {ref_s}  {note}")
    print("MOFA's MD figure is for 1e6 steps of a 2x2x2 supercell on half a GPU; ours is per "
          "10 000 steps on one CPU core. MOFA's GCMC figure is per structure at its cycle count.")


if __name__ == "__main__":
    main()
