"""Reading user structure files for the engines and CLI commands."""

from __future__ import annotations

import warnings
from pathlib import Path

from pymatgen.core import Structure

from mofgen.errors import InvalidInput


def read_structure(path: str | Path) -> Structure:
    """A periodic structure from a CIF (or any format pymatgen reads), as P1.

    Anything that is not a readable, ordered, periodic structure is :class:`InvalidInput`.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_file(str(path))
    except Exception as exc:  # pymatgen raises many types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read a crystal structure from {path}: {first}") from exc
    if len(structure) == 0:
        raise InvalidInput(f"{path} contains no atoms")
    if not structure.is_ordered:
        raise InvalidInput(f"{path} has partial occupancies; give an ordered structure")
    return structure
