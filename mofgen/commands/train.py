"""``mofgen train``: pretrain the linker generator on the corpus, or fine-tune a version.

Every run registers a model version (parent, training-set ids, hyperparameters, metrics
measured by sampling) in ``models`` with its checkpoint in GridFS. ``--export FILE`` also
writes the checkpoint to a file (that is how the package's shipped checkpoint is made).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mofgen.commands import emit
from mofgen.commands._db import add_db_option
from mofgen.commands._numbers import SEED, THREADS, bounded_int, finite_float
from mofgen.errors import InvalidInput
from mofgen.stores.connection import connect


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="pretrain the linker generator, or fine-tune a version (--from)")
    add_db_option(parser)
    parser.add_argument("--from", dest="parent", metavar="VERSION",
                        help="fine-tune this model version ('shipped' = the packaged model)")
    parser.add_argument("--smiles", metavar="FILE",
                        help="fine-tuning linkers, one SMILES per line")
    parser.add_argument("--structures", nargs="+", metavar="ID",
                        help="fine-tune on the linkers of these structures")
    parser.add_argument("--corpus", action="store_true",
                        help="with --from: continue training on the corpus itself")
    parser.add_argument("--epochs", type=finite_float(0, 100_000, low_open=True), default=None,
                        help="passes over the data (default 30 pretraining, 20 fine-tuning)")
    parser.add_argument("--max-minutes", type=finite_float(0, 10**7, low_open=True, unit="min"),
                        default=None, help="stop after this long")
    parser.add_argument("--batch-size", type=bounded_int(1, 100_000), default=32)
    parser.add_argument("--lr", type=finite_float(0, 10, low_open=True), default=None,
                        help="learning rate (default 1e-3 pretraining, 3e-4 fine-tuning)")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--oversample", action="append", default=[], metavar="ANCHOR=K",
                        help="show each linker of this anchor kind K times per epoch "
                             "(e.g. cyano=2; repeatable)")
    parser.add_argument("--hidden", type=bounded_int(1, 4096), default=64,
                        help="EGNN width (pretraining)")
    parser.add_argument("--layers", type=bounded_int(1, 64), default=4,
                        help="EGNN layers (pretraining)")
    parser.add_argument("--corpus-per-anchor", type=bounded_int(1, 10**6), default=2500,
                        help="corpus size per anchor kind (built and cached if missing)")
    parser.add_argument("--campaign", help="campaign the new version belongs to")
    parser.add_argument("--metrics-n", type=bounded_int(0, 10**6), default=64,
                        help="samples per anchor kind for the version's metrics (0: skip)")
    parser.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads")
    parser.add_argument("--export", metavar="FILE", help="also write the checkpoint here")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    import torch

    from mofgen import models
    from mofgen.generator import checkpoints
    from mofgen.generator.corpus import build_corpus, entries_from_smiles, load_corpus
    from mofgen.generator.metrics import evaluate, format_metrics
    from mofgen.generator.training import TrainConfig, finetune, pretrain

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.parent is None and (args.smiles or args.structures or args.corpus):
        raise InvalidInput("--smiles/--structures/--corpus train further: give --from VERSION")
    config = TrainConfig(epochs=args.epochs or (20.0 if args.parent else 30.0),
                         batch_size=args.batch_size, max_minutes=args.max_minutes,
                         lr=args.lr or (3e-4 if args.parent else 1e-3), seed=args.seed,
                         oversample=_oversample(args.oversample))
    config.check()

    def progress(info: dict) -> None:
        if not args.json:
            print(f"step {info['step']}/{info['of']}  loss {info['loss']:.4f}  "
                  f"{info['seconds']:.0f} s", file=sys.stderr, flush=True)

    db = connect(args.db)
    try:
        if args.parent:
            parent = models.load(db, "generator", args.parent)
            parent_id = checkpoints.ensure_shipped(db) if parent.version == \
                checkpoints.shipped_version() else parent.version
            if args.corpus:
                summary = build_corpus(args.seed, args.corpus_per_anchor)
                entries, dropped = load_corpus(summary["path"]), []
                smiles, set_ids = [], [f"corpus:{Path(summary['path']).name}"]
            else:
                smiles, set_ids = _finetune_smiles(db, args)
                entries, dropped = entries_from_smiles(smiles)
            if not entries:
                raise InvalidInput(f"none of the {len(smiles)} fine-tuning linkers passes "
                                   "processing as a ditopic COO or cyano linker")
            model, stats = finetune(parent, entries, config, progress=progress)
            stats["rejected_linkers"] = len(dropped)
        else:
            summary = build_corpus(args.seed, args.corpus_per_anchor)
            entries = load_corpus(summary["path"])
            model, stats = pretrain(entries, config, {"hidden": args.hidden,
                                                      "layers": args.layers}, progress)
            parent_id, set_ids = None, [f"corpus:{Path(summary['path']).name}"]
        metrics = evaluate(model, args.metrics_n, seed=args.seed) if args.metrics_n > 0 else {}
        metrics["train_seconds"] = stats["seconds"]
        metrics["train_seconds_per_100_molecules"] = stats["seconds_per_100_molecules"]
        doc = checkpoints.register_generator(
            db, model, parent=parent_id, training_set_ids=set_ids,
            hyperparameters={"train": stats["config"]}, metrics=metrics, campaign=args.campaign)
    finally:
        db.close()
    if args.export:
        model.save(args.export)
    report = {"version": doc.id, "parent": doc.parent, "training": stats, "metrics": metrics,
              "exported": args.export}
    emit(report, args.json, lambda r: _human(r, format_metrics))
    return 0


def _oversample(items: list[str]) -> dict[str, int]:
    """``["cyano=2"]`` -> ``{"cyano": 2}`` with the anchor name normalised."""
    from mofgen.chemistry import normalise_anchor

    out: dict[str, int] = {}
    for item in items:
        name, _, factor = item.partition("=")
        try:
            out[normalise_anchor(name)] = int(factor)
        except ValueError:
            raise InvalidInput(f"--oversample wants ANCHOR=K (e.g. cyano=2), got {item!r}"
                               ) from None
    return out


def _finetune_smiles(db, args) -> tuple[list[str], list[str]]:
    """SMILES to fine-tune on and the ids recorded as the version's training set."""
    if args.smiles:
        path = Path(args.smiles)
        if not path.is_file():
            raise InvalidInput(f"no such SMILES file: {args.smiles}")
        smiles = [ln.split()[0] for ln in path.read_text().splitlines() if ln.strip()
                  and not ln.startswith("#")]
        return smiles, [f"smiles:{s}" for s in smiles]
    if args.structures:
        smiles, found = [], []
        for doc in db.structures.find({"_id": {"$in": args.structures}},
                                      {"linkers": 1}):
            found.append(doc["_id"])
            smiles += [ref["smiles"] for ref in doc.get("linkers", []) if ref.get("smiles")]
        missing = sorted(set(args.structures) - set(found))
        if missing:
            raise InvalidInput(f"unknown structure id(s): {', '.join(missing[:5])}")
        return smiles, found
    raise InvalidInput("fine-tuning needs --smiles FILE or --structures ID ...")


def _human(report: dict, format_metrics) -> str:
    t = report["training"]
    lines = [f"registered model version {report['version']}"
             + (f" (parent {report['parent']})" if report["parent"] else ""),
             f"  trained {t['steps']} steps ({t['epochs_done']} epochs) on {t['molecules']} "
             f"molecules in {t['seconds']:.0f} s ({t['seconds_per_100_molecules']:.2f} s per "
             f"100 molecules, {t['device']}), final loss {t['final_loss']:.4f}"]
    if report["exported"]:
        lines.append(f"  checkpoint written to {report['exported']}")
    quality = {k: v for k, v in report["metrics"].items() if not k.startswith("train")}
    if quality:
        lines.append(format_metrics(quality))
    return "\n".join(lines)
