"""``mofgen lpad ARGS…``: FireWorks' own ``lpad`` on whatever ``--db`` names.

FireWorks' ``lpad`` opens MongoDB from a ``my_launchpad.yaml``; it cannot open the embedded
store, which is not a server. Here ``lpad``'s command line runs in-process with the
LaunchPad of :func:`mofgen.stores.connection.connect` — the same one the daemon and the
launchers use — so ``mofgen lpad --db ./mofgen-data get_fws -s COMPLETED`` works on a
laptop exactly as ``lpad -l my_launchpad.yaml get_fws -s COMPLETED`` does on a cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from mofgen.commands._db import add_db_option
from mofgen.errors import InvalidInput
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lpad", help="FireWorks' lpad command line on the --db database (embedded too)",
        description="Run FireWorks' lpad (e.g. get_fws, get_wflows, report, rerun_fws, "
        "detect_lostruns) on the database named by --db. Put --db before the lpad "
        "arguments; `mofgen lpad -- -h` shows lpad's own help.")
    add_db_option(parser)
    parser.add_argument("-l", "--launchpad_file", help=argparse.SUPPRESS)  # refused in run()
    parser.add_argument("lpad_args", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="arguments for lpad")
    parser.set_defaults(func=run)


def run(args) -> int:
    from fireworks.scripts import lpad_run

    argv = list(args.lpad_args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv and not args.launchpad_file:
        raise InvalidInput("give lpad arguments, e.g. `mofgen lpad get_fws -s READY` "
                           "(`mofgen lpad -- -h` lists them)")
    if args.launchpad_file or argv[0] in ("-l", "--launchpad_file", "init"):
        raise InvalidInput("mofgen lpad takes the database from --db, not from a "
                           "launchpad file")
    db = connect(args.db, create=False)
    launchpad = db.launchpad()
    original = lpad_run.get_lp
    lpad_run.get_lp = lambda _args: launchpad  # every lpad command opens the LaunchPad here
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            code = lpad_run.lpad(argv)
    except SystemExit as exc:  # argparse: usage and error went to the captured stderr
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            message = lines[-1] if lines else "invalid lpad arguments"
            raise InvalidInput(message.replace("lpad: error: ", "lpad: ")) from None
    except (ValueError, KeyError, TypeError, LookupError) as exc:
        raise InvalidInput(f"lpad {argv[0]}: {exc}") from None
    finally:
        lpad_run.get_lp = original
        db.close()
    sys.stderr.write(captured.getvalue())
    return int(code or 0)
