"""``mofgen submit``: add structure files (CIF, POSCAR, ...) to a crystal campaign.

Each file becomes a ``generated`` crystal unless the database already holds the same
structure (rotated, translated or as a supercell): then the existing id is reported and
nothing is stored. Every file is read and checked (``mofgen.sanity``: overlapping atoms, a
degenerate cell, density, elements outside the campaign's chemical system) before
anything is written, so one bad file leaves the database as it was.
"""

from __future__ import annotations

import warnings

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.errors import InvalidInput
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit", help="add structure files to a crystal campaign (stored once)")
    add_db_option(parser)
    parser.add_argument("--campaign", required=True, help="an existing crystal campaign")
    parser.add_argument("files", nargs="+", metavar="FILE", help="CIF, POSCAR, ... files")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def read_structure(path: str):
    from pymatgen.core import Structure

    try:
        with warnings.catch_warnings():  # pymatgen warns about what it then rejects
            warnings.simplefilter("ignore")
            structure = Structure.from_file(path)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except Exception as exc:  # pymatgen raises many kinds for unreadable files
        raise InvalidInput(f"{path}: not a readable structure ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'empty'})") from None
    if len(structure) == 0 or not structure.is_ordered:
        raise InvalidInput(f"{path}: empty or disordered structure")
    return structure


def run(args) -> int:
    from mofgen.campaigns import get_campaign
    from mofgen.kinds import get_kind
    from mofgen.sanity import ensure_sane, system_elements

    structures = [(path, read_structure(path)) for path in args.files]
    db = connect(args.db, create=False)
    try:
        campaign = get_campaign(db, args.campaign)
        kind = get_kind(campaign.kind)
        elements = system_elements(campaign.config.settings)
        for path, structure in structures:
            ensure_sane(structure, path, elements=elements)
        rows = []
        for path, structure in structures:
            doc_id, created = kind.submit(db, args.campaign, structure,
                                          {"generator": "submitted", "file": path})
            rows.append({"file": path, "id": doc_id, "created": created})
    finally:
        db.close()
    report = {"campaign": args.campaign, "submitted": rows,
              "created": sum(r["created"] for r in rows)}
    emit(report, args.json, lambda r: "\n".join(
        f"{row['file']}: {'stored as' if row['created'] else 'already stored as'} {row['id']}"
        for row in r["submitted"]))
    return 0
