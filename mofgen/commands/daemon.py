"""``mofgen daemon``: the policy daemon alone, beside cluster workers."""

from __future__ import annotations

import logging
import signal
import threading

from mofgen.campaigns import open_campaign, set_status
from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import finite_float
from mofgen.documents import load_config
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "daemon", help="run the policy daemon (inserts work for cluster workers)")
    add_db_option(parser)
    parser.add_argument("--campaign", default="default")
    parser.add_argument("--config", help="campaign config for a new campaign, YAML or JSON")
    parser.add_argument("--interval", type=finite_float(0.5, 86_400, unit="s"), default=10.0,
                        help="seconds between rounds")
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mofgen.launchers.daemon import Daemon

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db = connect(args.db)
    try:
        config = load_config(args.config) if args.config else None
        campaign = open_campaign(db, args.campaign, config)
        daemon = Daemon(db, args.campaign, campaign.config)
        if args.once:
            decisions = daemon.round()
            emit({"decisions": [{"stage": d.stage, "reason": d.reason, "doc_ids": d.doc_ids}
                                for d in decisions]}, args.json)
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        set_status(db, args.campaign, "running")
        daemon.run_forever(args.interval, stop)
        set_status(db, args.campaign, "stopped")
    finally:
        db.close()
    return 0
