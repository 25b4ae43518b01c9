"""``mofgen run``: a whole campaign on this machine; the same command resumes it."""

from __future__ import annotations

import signal

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import POSITIVE_COUNT, finite_float
from mofgen.documents import DEFAULT_KIND, CampaignConfig, kind_schema, load_config
from mofgen.errors import InvalidInput
from mofgen.kinds import kind_names
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run a campaign here: store, policy daemon and local launchers")
    add_db_option(parser)
    parser.add_argument("--campaign", default="default", help="campaign name (default: default)")
    parser.add_argument("--config", help="campaign config, YAML or JSON, or a shipped name")
    parser.add_argument("--kind", choices=kind_names(),
                        help="campaign kind (default: the config's, else mof)")
    parser.add_argument("--system", help="chemical system of a crystal campaign, e.g. Li-Fe-O "
                        "(implies --kind crystal)")
    parser.add_argument("--minutes", type=finite_float(0, 10**7, low_open=True, unit="min"),
                        help="stop after this many minutes")
    parser.add_argument("--max-structures", type=POSITIVE_COUNT,
                        help="generate at most N structures and stop when they are finished")
    parser.add_argument("--json", action="store_true", help="print the final summary as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from mofgen.launchers.runner import CampaignRunner

    if args.minutes is not None and args.minutes <= 0:
        raise InvalidInput("--minutes must be positive")
    if args.max_structures is not None and args.max_structures <= 0:
        raise InvalidInput("--max-structures must be positive")
    config = load_config(args.config) if args.config else None
    if args.kind or args.system:
        config = with_kind(config, args.kind, args.system)
    db = connect(args.db)
    runner = CampaignRunner(db, args.campaign, config, minutes=args.minutes,
                         max_structures=args.max_structures)
    # Ctrl-C or SIGTERM: stop deciding, let running tasks finish (the launchers ignore
    # SIGINT), then exit; the same command resumes.
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop.set())
    try:
        summary = runner.run()
    finally:
        db.close()
    emit(summary, args.json, lambda s: f"campaign {s['campaign']}: {s['reason']}; " +
         " ".join(f"{k}={v}" for k, v in s["states"].items() if v))
    return 0


def with_kind(config: CampaignConfig | None, kind: str | None, system: str | None
              ) -> CampaignConfig:
    """The config with ``--kind``/``--system`` from the command line taking precedence.

    Changing the kind drops the old kind's settings section; ``--system`` is the
    ``system`` setting of the kind whose settings have one.
    """
    from pydantic import ValidationError

    data = config.model_dump() if config else {}
    old = data.get("kind", DEFAULT_KIND)
    new = kind or (_kind_with_system(old) if system else old)
    section = data.pop(old, None) or {}
    data["kind"] = new
    data[new] = section if new == old else {}
    if system:
        data[new]["system"] = system
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _kind_with_system(current: str) -> str:
    """``current`` if its settings have a chemical system, else the first kind that does."""
    kinds = [current, *kind_names()]
    return next((k for k in kinds if "system" in kind_schema(k).settings.model_fields), current)
