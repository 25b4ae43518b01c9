"""``mofgen dashboard``: the read-only web dashboard on 127.0.0.1."""

from __future__ import annotations

from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import PORT
from mofgen.errors import InvalidInput
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="read-only web dashboard: campaigns, plots, structures, JSON API"
    )
    add_db_option(parser)
    parser.add_argument("--port", type=PORT, default=8050, help="port (default 8050)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mofgen.dashboard.app import serve

    if not 0 <= args.port <= 65535:
        raise InvalidInput(f"--port must be 0-65535, got {args.port}")
    db = connect(args.db, create=False)
    print(f"mofgen dashboard on http://{args.host}:{args.port}/ (database {db.target}); "
          "Ctrl-C stops", flush=True)
    try:
        serve(db, host=args.host, port=args.port)
    finally:
        db.close()
    return 0
