"""``mofgen adsorb FILE``: Zeo++ pore screen, partial charges, RASPA2 GCMC uptake."""

from __future__ import annotations

import argparse

from mofgen.commands import emit
from mofgen.commands._numbers import PRESSURE_BAR, TEMPERATURE_K, bounded_int
from mofgen.commands._paths import writable_dir
from mofgen.engines.adsorption import AdsorptionScreen, AdsorptionScreenResult
from mofgen.engines.charge_methods import CHARGE_METHODS, DEFAULT_METHOD, charge_calculation
from mofgen.engines.inputs import read_structure
from mofgen.engines.raspa import ADSORBATES, GcmcAdsorption
from mofgen.engines.results import Status
from mofgen.engines.zeopp import PoreAnalysis
from mofgen.errors import InvalidInput, ToolFailure
from mofgen.sanity import ensure_sane


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "adsorb", help="GCMC gas uptake of a CIF (Zeo++ screen, charges, RASPA2)")
    parser.add_argument("file", help="CIF (or any structure file pymatgen reads)")
    parser.add_argument("--cycles", type=bounded_int(1, 10**7), default=GcmcAdsorption.cycles,
                        help=f"production (and initialisation) cycles "
                             f"(default {GcmcAdsorption.cycles})")
    parser.add_argument("--pressure", type=PRESSURE_BAR, default=0.1, help="bar (default 0.1)")
    parser.add_argument("--temperature", type=TEMPERATURE_K, default=300.0, help="K (default 300)")
    parser.add_argument("--adsorbate", choices=ADSORBATES, default="CO2")
    parser.add_argument("--charge-method", choices=CHARGE_METHODS, default=DEFAULT_METHOD,
                        help=f"framework charges (default {DEFAULT_METHOD}; see mofgen charges)")
    parser.add_argument("--no-charges", action="store_true",
                        help="skip framework charges (LJ only)")
    parser.add_argument("--max-atoms", type=bounded_int(1, 10**7), default=None,
                        help="refuse when Zeo++, the charges or RASPA would simulate more "
                             f"atoms (unit cells x atoms; default {PoreAnalysis.max_atoms} "
                             f"Zeo++, {GcmcAdsorption.max_atoms} RASPA, the charge method's "
                             "own limit)")
    parser.add_argument("--workdir", help="keep inputs/outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _human(r: AdsorptionScreenResult) -> str:
    p = r.pores
    lines = [f"status: {r.status.value}" + (f" ({r.reason})" if r.reason else "")]
    if p.lcd_A is not None:
        lines.append(f"pores: LCD {p.lcd_A:.2f} A, PLD {p.pld_A:.2f} A, ASA {p.asa_m2_per_g:.0f} "
                     f"m2/g, void fraction {p.void_fraction:.3f}")
    if r.charges is not None and r.charges.charges:
        lines.append(f"charges: {r.charges.method}, max |q| {r.charges.max_abs_charge_e:.2f} e")
    a = r.adsorption
    if a is not None and a.uptake_mol_per_kg is not None:
        lines.append(f"{a.adsorbate} uptake at {a.pressure_bar} bar, {a.temperature_K} K: "
                     f"{a.uptake_mol_per_kg:.4f} +/- {a.uptake_error_mol_per_kg:.4f} mol/kg "
                     f"({a.cycles} cycles, {'x'.join(map(str, a.unit_cells))} cells)")
        if a.heat_of_adsorption_kJ_per_mol is not None:
            lines.append(f"heat of adsorption: {a.heat_of_adsorption_kJ_per_mol:.2f} +/- "
                         f"{a.heat_of_adsorption_error_kJ_per_mol:.2f} kJ/mol")
        lines.append(f"workdir: {a.workdir}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.cycles < 1:
        raise InvalidInput("--cycles must be a positive integer")
    if args.pressure <= 0 or args.temperature <= 0:
        raise InvalidInput("--pressure and --temperature must be positive")
    limits = {} if args.max_atoms is None else {"max_atoms": args.max_atoms}
    # every code of the chain simulates at least the unit cell: its smallest limit applies
    charges = charge_calculation(args.charge_method, **limits)
    engines = [PoreAnalysis(), GcmcAdsorption()] + ([] if args.no_charges else [charges])
    structure = read_structure(args.file, max_atoms=args.max_atoms or min(
        e.max_atoms for e in engines))
    ensure_sane(structure, args.file)  # before any engine starts
    if args.workdir:
        writable_dir(args.workdir, "--workdir")
    calc = AdsorptionScreen(
        pores=PoreAnalysis(**limits), charges=charges,
        gcmc=GcmcAdsorption(
            adsorbate=args.adsorbate, temperature_K=args.temperature,
            pressure_bar=args.pressure, cycles=args.cycles, use_charges=not args.no_charges,
            **limits))
    calc.check_size(structure)  # one line, before Zeo++ starts
    result = calc.run(structure, args.workdir)
    if result.charges is not None:
        result.charges.structure = None  # the charges list is enough on the terminal
    emit(result, args.json, _human)
    if result.status == Status.failed:
        raise ToolFailure(result.reason or "adsorption pipeline failed")
    return 0
