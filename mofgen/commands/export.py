"""``mofgen export``: a campaign as an open database (CIF, JSON Lines, OPTIMADE, records)."""

from __future__ import annotations

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.commands._paths import writable_dir
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a campaign: CIF files, JSON Lines, OPTIMADE entries, database "
                       "records, metadata"
    )
    add_db_option(parser)
    parser.add_argument("--campaign", required=True, help="campaign to export")
    parser.add_argument("--out", required=True, help="output directory (files are replaced)")
    parser.add_argument("--format", default="cif,jsonl,optimade,records",
                        help="comma list of cif, jsonl, optimade, records (default: all; "
                        "records only for kinds that publish them, e.g. mof)")
    parser.add_argument("--min-state", default=None,
                        help="only structures now at or beyond this state of the ladder "
                        "generated → validated → simulated → adsorbed → retrained")
    parser.add_argument("--query", default=None,
                        help='extra MongoDB filter as JSON, e.g. \'{"adsorb.co2_uptake": '
                        '{"$gt": 1}}\'')
    parser.add_argument("--licence", default="CC-BY-4.0",
                        help="licence of the data, recorded in metadata and every record")
    parser.add_argument("--release", default=None,
                        help="release label of the records, e.g. 1.0.0 (default: the UTC "
                        "date of the newest exported data, YYYY.MM.DD)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mofgen.export import export_campaign, parse_formats, parse_query
    from mofgen.export.record import check_licence, check_release
    from mofgen.querysafety import check_query

    formats = parse_formats(args.format)  # bad input fails before the database opens
    check_licence(args.licence)
    if args.release is not None:
        check_release(args.release)
    query = check_query(parse_query(args.query), "--query")  # no $where, $function, $expr
    writable_dir(args.out, "--out")
    db = connect(args.db, create=False)
    try:
        report = export_campaign(db, args.campaign, args.out, formats=formats,
                                 min_state=args.min_state, query=query, licence=args.licence,
                                 release=args.release)
    finally:
        db.close()
    emit(report.as_dict(), args.json,
         lambda r: f"exported {r['count']} structures of {r['campaign']} "
         f"({','.join(r['formats'])}) to {r['out']}")
    return 0
