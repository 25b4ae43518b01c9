"""``mofgen dashboard``: the read-only web dashboard on 127.0.0.1."""

from __future__ import annotations

import errno
import os
import socket

from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import PORT
from mofgen.errors import InvalidInput
from mofgen.hostcheck import ENV_HOSTS
from mofgen.stores.connection import connect, mask_uri


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="read-only web dashboard: campaigns, plots, structures, JSON API"
    )
    add_db_option(parser)
    parser.add_argument("--port", type=PORT, default=8050, help="port (default 8050)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests for this host name (repeatable; also "
                             f"${ENV_HOSTS}, comma-separated); others get 421")
    parser.set_defaults(func=run)


def check_address(host: str, port: int) -> None:
    """Bind ``host:port`` once, as the server will, so that a port in use, a privileged
    port or an address this machine does not have is one line instead of a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            probe.bind(address)
        except OSError as exc:
            raise InvalidInput(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def run(args) -> int:
    from mofgen.dashboard.app import serve

    check_address(args.host, args.port)
    if args.allow_host:  # read by mofgen.hostcheck when the app is created
        os.environ[ENV_HOSTS] = ",".join(filter(None, [os.environ.get(ENV_HOSTS, ""),
                                                       *args.allow_host]))
    db = connect(args.db, create=False)
    print(f"mofgen dashboard on http://{args.host}:{args.port}/ (database {mask_uri(db.target)}); "
          "Ctrl-C stops", flush=True)
    try:
        serve(db, host=args.host, port=args.port)
    except OSError as exc:  # lost the port between the check and the bind
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        raise InvalidInput(f"cannot serve on {args.host}:{args.port}: {exc.strerror}") from None
    finally:
        db.close()
    return 0
