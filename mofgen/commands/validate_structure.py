"""``mofgen validate-structure FILE``: UFF4MOF NPT MD in LAMMPS and the lattice strain."""

from __future__ import annotations

import argparse

from mofgen.commands import emit
from mofgen.commands._numbers import bounded_int
from mofgen.commands._paths import writable_dir
from mofgen.engines.inputs import read_structure
from mofgen.engines.lammps_md import NptStability
from mofgen.engines.results import StabilityResult, Status
from mofgen.errors import InvalidInput, ToolFailure
from mofgen.sanity import ensure_sane


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-structure", help="MD stability (LAMMPS, UFF4MOF, NPT 300 K / 1 atm) of a CIF")
    parser.add_argument("file", help="CIF (or any structure file pymatgen reads)")
    parser.add_argument("--steps", type=bounded_int(1, 10**7), default=NptStability.steps,
                        help=f"MD steps of 0.5 fs (default {NptStability.steps})")
    parser.add_argument("--max-atoms", type=bounded_int(1, 10**7),
                        default=NptStability.max_atoms,
                        help="refuse MD supercells with more atoms "
                             f"(default {NptStability.max_atoms})")
    parser.add_argument("--workdir", help="keep inputs/outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _human(r: StabilityResult) -> str:
    lines = [f"status: {r.status.value}" + (f" ({r.reason})" if r.reason else "")]
    if r.strain is not None:
        lines.append(f"strain: {r.strain:.4f} ({'stable' if r.stable else 'not stable'}, "
                     f"threshold {r.stable_strain})")
        lines.append(f"volume change: {r.volume_change:+.2%}")
    lines.append(f"MD: {r.steps} steps x {r.timestep_fs} fs, {r.n_atoms_md} atoms, supercell "
                 f"{'x'.join(map(str, r.supercell))}, {r.wall_time_s:.1f} s")
    if r.fallback_types:
        lines.append(f"UFF fallback types: {r.fallback_types}")
    lines.append(f"workdir: {r.workdir}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise InvalidInput("--steps must be a positive integer")
    structure = read_structure(args.file, max_atoms=args.max_atoms)  # cell <= supercell
    ensure_sane(structure, args.file)  # before any engine starts
    if args.workdir:
        writable_dir(args.workdir, "--workdir")
    maker = NptStability(steps=args.steps, max_atoms=args.max_atoms)
    maker.check_size(structure)  # one line, before typing starts
    result = maker.run(structure, args.workdir)
    result.final_structure = None  # large; kept as final_supercell.cif in the workdir
    result.final_cell_structure = None
    emit(result, args.json, _human)
    if result.status == Status.failed:
        raise ToolFailure(f"{result.tool}: {result.reason} (inputs kept in {result.workdir})")
    return 0
