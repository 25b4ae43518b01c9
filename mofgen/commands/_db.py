"""The ``--db`` option every database command shares."""

from __future__ import annotations

import argparse

from mofgen.stores.connection import DEFAULT_DB_DIR, ENV_DB


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help=f"mongodb:// or mongodb+srv:// URI, or a directory for the embedded store "
        f"(default: ${ENV_DB}, else ./{DEFAULT_DB_DIR})",
    )
