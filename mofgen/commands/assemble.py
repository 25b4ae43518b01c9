"""``mofgen assemble``: linkers (SMILES or files) + node -> screened MOF CIF, outside a campaign.

Exit status: 0 when the assembled MOF passes the geometric screen, 1 when it is assembled
but fails it (the CIF is still written), 2 for input that cannot be assembled at all.
"""

from __future__ import annotations

from typing import Any

from mofgen.commands import emit
from mofgen.errors import InvalidInput


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "assemble", help="assemble linkers and a metal node into a MOF CIF and screen it")
    parser.add_argument("--linker", action="append", required=True, metavar="SMILES_OR_FILE",
                        help="carboxylate linker as SMILES or .xyz/.mol/.sdf/.smi file "
                             "(repeat for up to three, one per cell axis)")
    parser.add_argument("--pillar", metavar="SMILES_OR_FILE",
                        help="N-donor pillar (pyrazine, 4,4'-bipyridine, DABCO, nitriles) for "
                             "the paddle-wheel pcu net")
    parser.add_argument("--node", default="zn_paddlewheel",
                        help="zn_paddlewheel (default), cu_paddlewheel or zn4o")
    parser.add_argument("--topology", default="pcu",
                        help="RCSR net: pcu (own builder) or any PORMAKE net, e.g. nbo")
    parser.add_argument("--out", metavar="FILE.cif", help="write the structure to this CIF")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mofgen.chemistry import (
        assemble_mof,
        linker_identity,
        load_linker,
        screen_structure,
        structure_hash,
    )

    if args.out and not str(args.out).lower().endswith(".cif"):
        raise InvalidInput(f"--out must name a .cif file, got {args.out}")
    linkers = [load_linker(spec, "COO") for spec in args.linker]
    pillar = load_linker(args.pillar, "cyano") if args.pillar else None
    mof = assemble_mof(linkers, pillar=pillar, node=args.node, topology=args.topology)
    screen = screen_structure(mof.structure)
    if args.out:
        try:
            mof.write_cif(args.out)
        except OSError as exc:
            raise InvalidInput(f"cannot write {args.out}: {exc.strerror}") from None
    lattice = mof.structure.lattice
    report: dict[str, Any] = {
        "cif": args.out,
        "node": mof.node,
        "topology": mof.topology,
        "engine": mof.engine,
        "linkers": mof.linkers,
        "pillar": mof.pillar,
        "formula": mof.structure.composition.reduced_formula,
        "n_atoms": len(mof.structure),
        "cell": {"a": lattice.a, "b": lattice.b, "c": lattice.c, "alpha": lattice.alpha,
                 "beta": lattice.beta, "gamma": lattice.gamma, "volume": lattice.volume},
        "screen": screen.as_dict(),
        "structure_hash": structure_hash(mof.structure),
        "linker_identity": linker_identity(mof.smiles, mof.node, mof.topology),
    }
    emit(report, args.json, _human)
    return 0 if screen.passed else 1


def _human(report: dict[str, Any]) -> str:
    cell = report["cell"]
    lines = [
        f"{report['formula']} ({report['n_atoms']} atoms) on {report['node']}, "
        f"{report['topology']} net ({report['engine']})",
        "  linkers: " + ", ".join(report["linkers"])
        + (f"; pillar: {report['pillar']}" if report["pillar"] else ""),
        f"  cell: a={cell['a']:.3f} b={cell['b']:.3f} c={cell['c']:.3f} A, "
        f"alpha={cell['alpha']:.1f} beta={cell['beta']:.1f} gamma={cell['gamma']:.1f}",
    ]
    screen = report["screen"]
    if screen["passed"]:
        lines.append("  screen: passed (" + ", ".join(screen["checks"]) + ")")
    else:
        for f in screen["failures"]:
            lines.append(f"  screen FAILED {f['check']}: {f['value']:.3g} vs threshold "
                         f"{f['threshold']:.3g} ({f['detail']})")
    lines.append(f"  structure hash: {report['structure_hash']}")
    if report["cif"]:
        lines.append(f"  written: {report['cif']}")
    return "\n".join(lines)
