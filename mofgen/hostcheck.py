"""Host-header check of the dashboard, against DNS rebinding.

A page on evil.example can make a browser resolve evil.example to 127.0.0.1 and then read
``http://evil.example:8050/api/...`` from the dashboard on this machine, same-origin as far
as the browser knows. The request still says ``Host: evil.example``; answering only to the
names this server is known by (127.0.0.1, localhost, [::1], the address it was bound to
and the names in ``$MOFGEN_DASHBOARD_HOSTS``) closes that door.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

ENV_HOSTS = "MOFGEN_DASHBOARD_HOSTS"  # comma-separated extra names, e.g. "mofgen.lab.org"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def _bare(name: str) -> str:
    """``Host`` header or configured name → lower-case host without port or brackets."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("["):  # [::1]:8050
        return name[1:].split("]", 1)[0]
    if name.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        name = name.split(":", 1)[0]
    return name


def allowed_hosts(bind_host: str | None = None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a request may carry in ``Host``: loopback, the address the server binds
    (unless it is a wildcard), ``extra`` and ``$MOFGEN_DASHBOARD_HOSTS``."""
    names = set(LOOPBACK)
    if bind_host and bind_host not in _ANY_ADDRESS:
        names.add(_bare(bind_host))
    env = os.environ.get(ENV_HOSTS, "")
    names.update(_bare(n) for n in (*extra, *env.split(",")) if n.strip())
    return frozenset(names)


def host_allowed(host_header: str | None, allowed: Iterable[str]) -> bool:
    """Is a request with this ``Host`` header for us? A missing header is not."""
    if not host_header:
        return False
    return _bare(host_header) in set(allowed)


def install_host_check(app, bind_host: str | None = None, extra: Iterable[str] = ()) -> None:
    """Answer 421 Misdirected Request (one line of text) to any other ``Host`` on ``app``
    (a Flask application), before any view runs."""
    from flask import Response, request

    allowed = allowed_hosts(bind_host, extra)

    def check_host():
        if not host_allowed(request.host, allowed):
            return Response(f"unknown host {request.host!r}: this dashboard answers to "
                            f"{', '.join(sorted(allowed))} (add names with {ENV_HOSTS})\n",
                            status=421, mimetype="text/plain")
        return None

    app.before_request(check_host)
