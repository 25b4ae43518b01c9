"""Reading user structure files for the engines and CLI commands."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from pymatgen.core import Structure

from mofgen.engines._tools import TooManyAtoms
from mofgen.errors import InvalidInput

_CIF_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\S+")


def cif_site_rows(path: Path) -> int | None:
    """Rows of a CIF's ``_atom_site`` loop, counted without parsing the file (``None`` if
    there is no such loop). pymatgen's CIF reader takes ~12 s for 6,000 sites; this takes
    milliseconds. Values are counted, not lines, so a row wrapped over two lines counts
    once; with symmetry the cell holds at least this many atoms."""
    fields = values = 0
    in_header = in_loop = False
    try:
        with open(path, errors="replace") as handle:
            for line in handle:
                text = line.strip()
                if text == "loop_":
                    if in_loop:
                        break  # the atom-site loop is over
                    in_header, fields = True, 0
                    continue
                if in_header and text.startswith("_"):
                    fields += 1
                    in_loop = in_loop or text.lower().startswith("_atom_site_")
                    continue
                in_header = False
                if in_loop:
                    if not text or text.startswith("#"):
                        continue
                    if text.startswith(("_", "data_", ";")):
                        break
                    values += len(_CIF_TOKEN.findall(text))
    except OSError:
        return None
    return values // fields if in_loop and fields else None


def read_structure(path: str | Path, max_atoms: int | None = None) -> Structure:
    """A periodic structure from a CIF (or any format pymatgen reads), as P1.

    Anything that is not a readable, ordered, periodic structure is :class:`InvalidInput`;
    a CIF that lists more than ``max_atoms`` sites is refused before it is parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}")
    if max_atoms is not None and path.suffix.lower() == ".cif":
        rows = cif_site_rows(path)
        if rows is not None and rows > max_atoms:
            raise TooManyAtoms(f"{path} lists {rows} atoms, above the limit of {max_atoms} "
                               "(max_atoms); refused before reading it")
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


def cif_charges(path: str | Path, structure: Structure) -> list[float] | None:
    """Per-site ``_atom_site_charge`` of a CIF, mapped onto ``structure`` (read from the
    same file) through the site labels; ``None`` when the CIF has no charge column.

    pymatgen keeps each site's CIF label when it applies the symmetry operations, but not
    the charge column, so symmetric CIFs (Cu-BTC is Fm-3m) need this mapping. A label that
    carries two different charges cannot be mapped and is :class:`InvalidInput`.
    """
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blocks = CifParser(str(path)).as_dict()
    block = next(iter(blocks.values()), {})
    if "_atom_site_charge" not in block:
        return None
    by_label: dict[str, float] = {}
    for label, text in zip(block["_atom_site_label"], block["_atom_site_charge"], strict=True):
        value = float(re.sub(r"\(\d+\)$", "", text))
        if by_label.setdefault(label, value) != value:
            raise InvalidInput(f"{path}: label {label} carries two charges; cannot map them")
    try:
        return [by_label[site.label] for site in structure]
    except KeyError as exc:
        raise InvalidInput(f"{path}: site label {exc} has no _atom_site_charge") from None
