"""``mofgen generate``: sample linkers from a generator version (default: the current one).

The current version is the newest generator in the database when one is given (``--db`` /
``$MOFGEN_DB`` / an existing ``./mofgen-data``), else the checkpoint shipped with mofgen.
``--metrics`` samples every anchor kind and prints the version's quality metrics (and
stores them on the version when it is registered in the database).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import SEED, THREADS, bounded_int
from mofgen.errors import InvalidInput
from mofgen.stores.connection import DEFAULT_DB_DIR, ENV_DB, connect


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="sample linkers from the generator")
    add_db_option(parser)
    parser.add_argument("--n", type=bounded_int(1, 10**6), default=8,
                        help="linkers to sample (per anchor kind "
                        "with --metrics)")
    parser.add_argument("--anchor", default=None,
                        help="COO (carboxylate, default) or cyano (N-donor pillar)")
    parser.add_argument("--model", metavar="VERSION",
                        help="model version (default: newest in the database, else 'shipped')")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--steps", type=bounded_int(1, 100_000), default=None,
                        help="reverse-diffusion steps")
    parser.add_argument("--batch-size", type=bounded_int(1, 100_000), default=32)
    parser.add_argument("--metrics", action="store_true",
                        help="print the version's quality metrics instead of the linkers")
    parser.add_argument("--save", action="store_true",
                        help="store the linkers in the database's linkers collection")
    parser.add_argument("--campaign", default="adhoc", help="campaign for --save")
    parser.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _database_given(args) -> bool:
    return bool(args.db or os.environ.get(ENV_DB) or Path(DEFAULT_DB_DIR).is_dir())


def run(args) -> int:
    if args.n is None or args.n <= 0:
        raise InvalidInput(f"--n must be a positive number of linkers, got {args.n}")
    from mofgen.chemistry import normalise_anchor

    if args.anchor is not None:
        try:
            normalise_anchor(args.anchor)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    import torch

    from mofgen import models
    from mofgen.generator import checkpoints
    from mofgen.generator.sampling import DEFAULT_STEPS, check_request, generate

    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or DEFAULT_STEPS
    db = connect(args.db, create=args.save) if (_database_given(args) or args.save) else None
    try:
        version = args.model or (models.latest_version(db, "generator")
                                 if db is not None else None)
        model = (models.load(db, "generator", version) if version
                 else checkpoints.shipped_model())
        if args.metrics:
            return _metrics(args, db, model, steps)
        anchor = check_request(args.n, args.anchor or "COO", model)
        start = time.perf_counter()
        linkers = [item for batch in generate(model, args.n, anchor, seed=args.seed,
                                              steps=steps, batch_size=args.batch_size)
                   for item in batch]
        seconds = time.perf_counter() - start
        if args.save:
            if model.version == checkpoints.shipped_version():
                checkpoints.ensure_shipped(db)  # so the linkers' model version resolves
            for item in linkers:
                doc = item.to_linker_doc(args.campaign).to_mongo()
                db.linkers.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    finally:
        if db is not None:
            db.close()
    report = {"model_version": model.version, "anchor": anchor, "n": args.n,
              "valid": sum(x.valid for x in linkers), "seconds": round(seconds, 2),
              "linkers_per_second": round(args.n / seconds, 3),
              "linkers": [x.model_dump(mode="json", exclude={"processed"}) for x in linkers]}
    emit(report, args.json, _human)
    return 0


def _metrics(args, db, model, steps: int) -> int:
    from mofgen import models
    from mofgen.generator.metrics import evaluate, format_metrics
    from mofgen.generator.sampling import check_request

    anchors = [check_request(args.n, args.anchor, model)] if args.anchor else model.anchors()
    metrics = evaluate(model, args.n, anchors, seed=args.seed, steps=steps)
    if db is not None and db.models.find_one({"_id": model.version}):
        models.update_metrics(db, model.version, metrics)
    emit({"model_version": model.version, "steps": steps, "metrics": metrics}, args.json,
         lambda r: f"model {r['model_version']} ({args.n} samples per anchor, {steps} steps)\n"
                   + format_metrics(r["metrics"]))
    return 0


def _human(report: dict) -> str:
    lines = []
    for item in report["linkers"]:
        what = item["smiles"] if item["valid"] else f"rejected ({item['rejection']})"
        lines.append(f"{item['anchor']:<6} {item['n_linker_atoms']:>3} atoms  {what}")
    lines.append(f"{report['valid']}/{report['n']} valid, model {report['model_version']}, "
                 f"{report['linkers_per_second']:.2f} linkers/s")
    return "\n".join(lines)
