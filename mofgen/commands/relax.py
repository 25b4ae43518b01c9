"""``mofgen relax FILE``: cell optimisation with CHGNet (default) or CP2K PBE-D3."""

from __future__ import annotations

import argparse

from mofgen.commands import emit
from mofgen.commands._numbers import bounded_int
from mofgen.commands._paths import writable_dir
from mofgen.engines.chgnet_relax import ChgnetRelaxation
from mofgen.engines.cp2k_relax import Cp2kRelaxation
from mofgen.engines.inputs import read_structure
from mofgen.engines.results import RelaxResult, Status
from mofgen.errors import InvalidInput, ToolFailure
from mofgen.sanity import ensure_sane


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "relax", help="cell optimisation of a CIF (CHGNet via atomate2, or CP2K PBE-D3)")
    parser.add_argument("file", help="CIF (or any structure file pymatgen reads)")
    parser.add_argument("--fidelity", choices=("mlip", "dft"), default="mlip",
                        help="mlip = CHGNet (default), dft = CP2K")
    parser.add_argument("--steps", type=bounded_int(1, 100_000), default=None,
                        help="optimiser steps (default: 500 CHGNet, 10 CP2K)")
    parser.add_argument("--max-atoms", type=bounded_int(1, 10**7), default=None,
                        help="refuse cells with more atoms (default: 2000 CHGNet, 1000 CP2K)")
    parser.add_argument("--workdir", help="keep inputs/outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _human(r: RelaxResult) -> str:
    lines = [f"status: {r.status.value}" + (f" ({r.reason})" if r.reason else ""),
             f"fidelity: {r.fidelity} ({r.software_version})"]
    if r.energy_eV is not None:
        lines.append(f"energy: {r.energy_eV:.4f} eV ({r.energy_per_atom_eV:.4f} eV/atom), "
                     f"{r.n_steps} steps, converged: {r.converged}")
        lines.append(f"volume: {r.initial_volume_A3:.1f} -> {r.final_volume_A3:.1f} A^3 "
                     f"({r.volume_change:+.2%})")
    lines.append(f"workdir: {r.workdir}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.steps is not None and args.steps < 1:
        raise InvalidInput("--steps must be a positive integer")
    if args.fidelity == "dft":
        calc = Cp2kRelaxation() if args.steps is None else Cp2kRelaxation(max_steps=args.steps)
    else:
        calc = ChgnetRelaxation() if args.steps is None else ChgnetRelaxation(steps=args.steps)
    if args.max_atoms is not None:
        calc.max_atoms = args.max_atoms
    structure = read_structure(args.file, max_atoms=calc.max_atoms)
    calc.check_size(structure)  # one line, before a work directory or a model
    ensure_sane(structure, args.file)  # before any engine starts
    if args.workdir:
        writable_dir(args.workdir, "--workdir")
    result = calc.run(structure, args.workdir)
    emit(result, args.json, _human)
    if result.status == Status.failed:
        raise ToolFailure(f"{result.tool}: {result.reason} (inputs kept in {result.workdir})")
    return 0
