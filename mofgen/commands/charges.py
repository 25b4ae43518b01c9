"""``mofgen charges FILE``: per-site partial charges by EQeq, QEq or CP2K DDAPC."""

from __future__ import annotations

import argparse

from mofgen.commands import emit
from mofgen.commands._numbers import bounded_int
from mofgen.commands._paths import writable_dir
from mofgen.engines.charge_methods import CHARGE_METHODS, DEFAULT_METHOD, charge_calculation
from mofgen.engines.inputs import read_structure
from mofgen.engines.results import ChargeResult, Status
from mofgen.errors import ToolFailure
from mofgen.sanity import ensure_sane


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "charges", help="partial charges of a CIF (EQeq, QEq in LAMMPS, or CP2K DDAPC)")
    parser.add_argument("file", help="CIF (or any structure file pymatgen reads)")
    parser.add_argument("--method", choices=CHARGE_METHODS, default=DEFAULT_METHOD,
                        help=f"eqeq (numpy), qeq (LAMMPS) or dft (CP2K PBE DDAPC, hours); "
                             f"default {DEFAULT_METHOD}")
    parser.add_argument("--max-atoms", type=bounded_int(1, 10**7), default=None,
                        help="refuse larger calculations (default: the method's own limit)")
    parser.add_argument("--workdir", help="keep inputs/outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _human(r: ChargeResult) -> str:
    lines = [f"status: {r.status.value}" + (f" ({r.reason})" if r.reason else ""),
             f"method: {r.method} ({r.tool} {r.software_version})".rstrip()]
    if r.charges:
        symbols = [site["species"][0]["element"] for site in r.structure["sites"]] \
            if r.structure else ["?"] * len(r.charges)
        lines.append(f"total charge: {r.total_charge_e:+.6f} e, max |q| "
                     f"{r.max_abs_charge_e:.3f} e, {len(r.charges)} sites")
        lines.append("site  element  charge (e)")
        lines.extend(f"{i:>4}  {el:<7}  {q:+.4f}"
                     for i, (el, q) in enumerate(zip(symbols, r.charges, strict=True), 1))
    lines.append(f"workdir: {r.workdir}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    limits = {} if args.max_atoms is None else {"max_atoms": args.max_atoms}
    calc = charge_calculation(args.method, **limits)
    structure = read_structure(args.file, max_atoms=calc.max_atoms)
    calc.check_size(structure)  # one line, before a work directory or a code starts
    ensure_sane(structure, args.file)
    if args.workdir:
        writable_dir(args.workdir, "--workdir")
    result = calc.run(structure, args.workdir)
    emit(result, args.json, _human)
    if result.status == Status.failed:
        raise ToolFailure(f"{result.tool}: {result.reason} (inputs kept in {result.workdir})")
    return 0
