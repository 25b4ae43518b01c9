"""The ``mofgen`` command line.

Sub-commands live in :mod:`mofgen.commands` (one module each, discovered here). Errors a
user can cause are :class:`mofgen.errors.MofgenError`: they print one line on stderr and
exit non-zero; argparse usage errors do the same.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

import mofgen.commands
from mofgen import __version__
from mofgen.errors import MofgenError


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``mofgen: error: ...``) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="mofgen",
        description="Generative discovery of metal-organic frameworks and crystals, "
        "database-centric (MongoDB + FireWorks).",
    )
    parser.add_argument("--version", action="version", version=f"mofgen {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_OneLineParser
    )
    modules = sorted(pkgutil.iter_modules(mofgen.commands.__path__), key=lambda m: m.name)
    for module_info in modules:
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"mofgen.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `mofgen status | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MofgenError as exc:
        sys.stderr.write(f"mofgen {args.command}: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"mofgen {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
