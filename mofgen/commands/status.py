"""``mofgen status``: counts per state, rates, best structures, models, queues."""

from __future__ import annotations

from mofgen.campaigns import all_campaign_names, campaign_status
from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.kinds import get_kind
from mofgen.stores.connection import connect, mask_uri


def register(subparsers) -> None:
    parser = subparsers.add_parser("status", help="show campaigns: states, rates, best, queues")
    add_db_option(parser)
    parser.add_argument("--campaign", help="one campaign (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    db = connect(args.db, create=False)
    try:
        names = [args.campaign] if args.campaign else all_campaign_names(db)
        report = {"db": mask_uri(db.target), "campaigns": [campaign_status(db, n) for n in names]}
    finally:
        db.close()
    emit(report, args.json, _human)
    return 0


def _human(report: dict) -> str:
    if not report["campaigns"]:
        return f"{report['db']}: no campaigns yet"
    lines = []
    for c in report["campaigns"]:
        lines.append(f"campaign {c['campaign']} ({c['kind']}, {c['status']})")
        states = "  ".join(f"{k}={v}" for k, v in c["states"].items())
        reached = "  ".join(f"{k}={v}" for k, v in c["reached"].items() if v)
        lines.append(f"  now:     {states}")
        lines.append(f"  reached: {reached or '-'}")
        if c["rates_per_hour"]:
            rates = "  ".join(f"{k}={v}/h" for k, v in c["rates_per_hour"].items())
            lines.append(f"  rates:   {rates}")
        for column in c["best"]:
            for row in column["top"][:3]:
                lines.append(f"  best {column['label']}: {row['value']:.{column['digits']}f} "
                             f"{column['unit']}  {row['formula']}  {row['id']}")
        for table in get_kind(c["kind"]).status_tables(c):
            lines.append(f"  {table['title']}:")
            lines += [f"    {' | '.join(str(cell) for cell in row)}" for row in table["rows"]]
        queues = "  ".join(f"{k}: {v['READY']} ready/{v['RUNNING']} running"
                           for k, v in c["queues"].items())
        lines.append(f"  queues:  {queues}")
        if c["model_versions"]:
            lines.append("  models:  " + ", ".join(m["version"] for m in c["model_versions"]))
    return "\n".join(lines)
