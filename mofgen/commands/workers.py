"""``mofgen workers --write DIR``: FireWorks files for running workers on a cluster."""

from __future__ import annotations

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.launchers.templates import write_worker_files
from mofgen.stores.connection import resolve_target


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "workers", help="write my_launchpad.yaml, fworker_*.yaml and queue adapters")
    add_db_option(parser)
    parser.add_argument("--write", required=True, metavar="DIR", help="directory to write to")
    parser.add_argument("--campaign", help="workers take only this campaign's Fireworks "
                        "(default: any campaign on the database)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    files = write_worker_files(args.write, resolve_target(args.db), campaign=args.campaign)
    emit({"written": [str(f) for f in files]}, args.json,
         lambda r: "wrote\n  " + "\n  ".join(r["written"]) +
         f"\nthen: cd {args.write} && qlaunch -q qadapter_slurm_cpu.yaml "
         "-w fworker_cpu.yaml -l my_launchpad.yaml rapidfire")
    return 0
