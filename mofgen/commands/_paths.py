"""Output directories a command will write, checked before any work starts.

An export or an engine run that fails on its first write after minutes of work (or with a
``PermissionError`` traceback) is worse than one line up front. The check creates what is
missing and a probe file, then removes both, so a refused or still-to-run command leaves
nothing behind. (``os.access`` is no help: it says yes to root on a read-only ``/sys``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from mofgen.errors import InvalidInput


def writable_dir(path: str, option: str) -> Path:
    """``path`` if a directory can be created there and written into; else one line."""
    try:
        target = Path(path).expanduser()
        if target.exists() and not target.is_dir():
            raise InvalidInput(f"{option} {path} is a file; give a directory")
    except ValueError as exc:  # e.g. an embedded NUL byte
        raise InvalidInput(f"{option} {path!r}: {exc}") from None
    missing = []
    parent = target
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            directory.mkdir()
            created.append(directory)
        probe = target / f".mofgen-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(f"cannot write to {option} {path}: "
                           f"{exc.strerror or type(exc).__name__}") from None
    finally:
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                pass
    return target
