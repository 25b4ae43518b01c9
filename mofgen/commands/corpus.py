"""``mofgen corpus build``: the generator's training corpus (3D linkers, cached on disk)."""

from __future__ import annotations

import sys

from mofgen.commands import emit
from mofgen.commands._numbers import SEED, bounded_int


def register(subparsers) -> None:
    parser = subparsers.add_parser("corpus", help="build the generator's training corpus")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    build = actions.add_parser("build", help="expand, embed in 3D and filter the linker list")
    build.add_argument("--seed", type=SEED, default=0, help="fixes which derivatives are drawn")
    build.add_argument("--per-anchor", type=bounded_int(1, 10**6), default=2500,
                       help="candidate linkers per anchor kind (before filtering)")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    build.add_argument("--json", action="store_true", help="print one JSON document")
    build.set_defaults(func=run)
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])


def run(args) -> int:
    from mofgen.generator.corpus import build_corpus

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"embedded {done}/{total}", file=sys.stderr, flush=True)

    summary = build_corpus(args.seed, args.per_anchor, force=args.force, progress=progress)
    emit(summary, args.json, _human)
    return 0


def _human(s: dict) -> str:
    anchors = ", ".join(f"{k} {v}" for k, v in sorted(s["by_anchor"].items()))
    how = "cached" if s["cached"] else f"built in {s['seconds']:.0f} s"
    rejected = ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "none"
    return (f"{s['molecules']} molecules ({anchors}), {how}\n"
            f"  linker atoms: mean {s['linker_atoms_mean']}, max {s['linker_atoms_max']}\n"
            f"  rejected by processing: {rejected}\n  {s['path']}")
