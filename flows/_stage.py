"""The one shape of every stage job: connect, find the stage, claim, compute, write.

Every stage Maker subclasses :class:`StageMaker`; its jobflow job is always
``make(db, campaign, doc_ids, params)`` and :func:`run_job` does the rest, by the scope
the kind's ladder gives the stage (:class:`mofgen.documents.Stage`):

* ``structure`` — lease the one document, ``compute(doc, ctx)`` in its own directory,
  end in exactly one transition: the stage's target, ``rejected`` (with the number that
  decided) or ``failed`` (with the tool's message);
* ``batch`` — lease every document that can be, ``compute_batch(docs, ctx)`` together
  (batched ML inference), one transition each; a document left without an outcome, or a
  crash of the whole batch, ends ``failed`` so nothing stays leased;
* ``campaign`` — ``run_campaign(ctx, **params)`` (generate creates documents, retrain
  trains on a set and advances its members).

While a computation runs, a heartbeat renews its leases, so a stage longer than its lease
keeps its document; a job whose lease was taken over (its worker presumed dead) does not
write. A job that finds its document already taken or moved on does nothing, so re-running
a Firework after a crash is harmless. One database connection serves the whole job.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Maker, job

from mofgen.documents import CampaignConfig, Stage, utcnow
from mofgen.errors import IllegalTransition, MofgenError
from mofgen.policy import params_key
from mofgen.states import StateMachine, default_worker_id
from mofgen.stores.connection import MofgenDB, connect

log = logging.getLogger(__name__)

MIN_HEARTBEAT_S = 0.2


@dataclass
class Outcome:
    """The result of a stage's computation on one document, before it is written."""

    record: dict[str, Any] = field(default_factory=dict)
    reject_reason: str | None = None
    value: float | None = None
    threshold: float | None = None
    failure: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class StageContext:
    """What a computation may use: the job's one connection, its campaign, config, stage."""

    db: MofgenDB
    campaign: str
    config: CampaignConfig
    stage: Stage
    machine: StateMachine
    workdir: Path


@dataclass
class StageMaker(Maker):
    """A Maker for one stage; subclasses set ``name`` and implement the method their
    stage's scope calls (``compute``, ``compute_batch`` or ``run_campaign``)."""

    name: str = "stage"

    @job
    def make(self, db: str, campaign: str, doc_ids: list[str] | None = None,
             params: dict[str, Any] | None = None) -> dict:
        return run_job(self, db, campaign, doc_ids or [], params or {})

    def compute(self, doc: dict, ctx: StageContext) -> Outcome:
        """One leased document (``structure`` scope)."""
        raise TypeError(f"{type(self).__name__} does not compute single structures")

    def compute_batch(self, docs: list[dict], ctx: StageContext) -> dict[str, Outcome]:
        """All leased documents of a batch at once (``batch`` scope)."""
        raise TypeError(f"{type(self).__name__} does not compute batches")

    def run_campaign(self, ctx: StageContext, **params: Any) -> dict[str, Any]:
        """Campaign-wide work (``campaign`` scope): returns the job's summary."""
        raise TypeError(f"{type(self).__name__} does not run campaign-wide")


def run_job(maker: StageMaker, db_target: str, campaign: str, doc_ids: list[str],
            params: dict[str, Any]) -> dict[str, Any]:
    """Run ``maker``'s stage of ``campaign`` on ``doc_ids`` (or with ``params``)."""
    from mofgen.campaigns import get_campaign

    db = connect(db_target)
    try:
        config = get_campaign(db, campaign).config
        machine = StateMachine(db.structures, worker=default_worker_id(), kind=config.kind)
        stage = machine.schema.stage(maker.name)
        ctx = StageContext(db, campaign, config, stage, machine, Path.cwd())
        if stage.scope == "campaign":
            return _run_campaign(maker, ctx, params)
        if stage.scope == "batch":
            return _run_batch(maker, ctx, doc_ids)
        return {"stage": stage.name, "results": [_run_one(maker, ctx, i) for i in doc_ids]}
    finally:
        db.close()


def _run_campaign(maker: StageMaker, ctx: StageContext, params: dict[str, Any]
                  ) -> dict[str, Any]:
    """A campaign-wide job. If it fails, the failure is recorded on the campaign with the
    parameters it failed for (``failures.<stage>``), so the policy does not queue the same
    work again until something changed, and the Firework still completes: a failed
    retraining is an outcome, not a crash to re-run."""
    name = ctx.stage.name
    summary, failure = _guarded(maker.run_campaign, ctx, **params, what=f"{name} of "
                                f"{ctx.campaign}")
    if failure is None:
        ctx.db.campaigns.update_one({"_id": ctx.campaign}, {"$unset": {f"failures.{name}": ""}})
        return summary
    record = {"params_key": params_key(params), "message": failure, "time": utcnow()}
    ctx.db.campaigns.update_one({"_id": ctx.campaign}, {"$set": {f"failures.{name}": record}})
    ctx.db.collection("decisions").insert_one(
        {"campaign": ctx.campaign, "time": record["time"], "stage": name,
         "reason": f"{name} failed: {failure}", "evidence": {"params_key": record["params_key"]},
         "fw_ids": [], "doc_ids": []})
    return {"stage": name, "outcome": "failed", "message": failure}


def _run_one(maker: StageMaker, ctx: StageContext, doc_id: str) -> dict[str, Any]:
    name = ctx.stage.name
    doc = ctx.machine.claim_id(doc_id, ctx.stage)
    if doc is None:
        current = ctx.db.structures.find_one({"_id": doc_id}, {"state": 1}) or {}
        return {"doc_id": doc_id, "stage": name, "outcome": "skipped",
                "state": current.get("state")}
    ctx.workdir = Path.cwd() / f"{name}-{doc_id}"
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with lease_heartbeat(ctx.machine, [doc_id], ctx.stage.lease_seconds) as lost:
        outcome, failure = _guarded(maker.compute, doc, ctx, what=f"stage {name} on {doc_id}")
    if failure is not None:
        outcome = Outcome(failure=failure)
    outcome.record.setdefault("workdir", str(ctx.workdir))
    return write_outcome(ctx.machine, doc_id, ctx.stage, outcome, lost)


def _run_batch(maker: StageMaker, ctx: StageContext, doc_ids: list[str]) -> dict[str, Any]:
    name = ctx.stage.name
    docs = [d for d in (ctx.machine.claim_id(i, ctx.stage) for i in doc_ids) if d is not None]
    results = {i: {"doc_id": i, "stage": name, "outcome": "skipped"} for i in doc_ids}
    if not docs:
        return {"stage": name, "results": list(results.values())}
    ctx.workdir = Path.cwd() / f"{name}-batch-{docs[0]['_id']}"
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    leased = [d["_id"] for d in docs]
    with lease_heartbeat(ctx.machine, leased, ctx.stage.lease_seconds) as lost:
        outcomes, failure = _guarded(maker.compute_batch, docs, ctx, what=f"batch {name}")
    outcomes = outcomes or {}
    message = failure or "the batch computation returned no outcome for this document"
    for doc_id in leased:
        outcome = outcomes.get(doc_id) or Outcome(failure=message)
        results[doc_id] = write_outcome(ctx.machine, doc_id, ctx.stage, outcome, lost)
    return {"stage": name, "results": list(results.values())}


@contextmanager
def lease_heartbeat(machine: StateMachine, doc_ids: list[str], lease_seconds: float
                    ) -> Iterator[set[str]]:
    """Renew the leases on ``doc_ids`` every third of ``lease_seconds`` while the body runs.

    Yields the set of ids whose lease was lost (taken over after it expired anyway, e.g.
    while this process was suspended); their results must not be written.
    """
    lost: set[str] = set()
    stop = threading.Event()
    interval = max(MIN_HEARTBEAT_S, lease_seconds / 3)

    def beat() -> None:
        while not stop.wait(interval):
            for doc_id in doc_ids:
                if doc_id not in lost and not machine.renew(doc_id, lease_seconds):
                    lost.add(doc_id)
                    log.warning("lease on %s was lost while its stage ran", doc_id)

    thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join()


def _guarded(compute: Callable[..., Any], *args: Any, what: str, **kwargs: Any
             ) -> tuple[Any, str | None]:
    """``(compute(*args, **kwargs), None)``, or ``(None, message)`` when it raised.

    mofgen's own errors are expected outcomes (one line); anything else is a broken tool
    or library, recorded with its trace in the worker's log.
    """
    try:
        return compute(*args, **kwargs), None
    except MofgenError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.error("%s raised:\n%s", what, traceback.format_exc())
        return None, f"{type(exc).__name__}: {exc}"[:2000]


def write_outcome(machine: StateMachine, doc_id: str, stage: Stage, outcome: Outcome,
                  lost: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """End a leased stage in exactly one transition: failed, rejected or the stage's target."""
    if doc_id in lost:
        return {"doc_id": doc_id, "stage": stage.name, "outcome": "lost-lease",
                "message": "the lease expired while the stage ran; another worker took over"}
    try:
        if outcome.failure is not None:
            after = machine.fail(doc_id, stage, outcome.failure)
        elif outcome.reject_reason is not None:
            after = machine.reject(doc_id, stage, outcome.reject_reason, outcome.value,
                                   outcome.threshold, record=outcome.record)
        else:
            after = machine.complete(doc_id, stage, outcome.record, versions=outcome.versions)
    except IllegalTransition as exc:  # our lease expired and someone else took over
        return {"doc_id": doc_id, "stage": stage.name, "outcome": "lost-lease",
                "message": str(exc)}
    return {"doc_id": doc_id, "stage": stage.name, "outcome": after["state"],
            "target": stage.target.value}


# ----------------------------------------------------------------- campaign-scoped helpers
def store_once(ctx: StageContext, doc) -> bool:
    """Insert a new ``generated`` document unless its id is stored already.

    Ids derive from the structure, so a structure generated again (by this or another
    campaign) is stored once; another campaign that generated it is noted in ``also_in``.
    """
    if ctx.machine.create(doc):
        return True
    ctx.db.structures.update_one({"_id": doc.id, "campaign": {"$ne": ctx.campaign}},
                                 {"$addToSet": {"also_in": ctx.campaign}})
    return False


def finish_retrain(ctx: StageContext, training_ids: list[str], record: dict[str, Any]) -> int:
    """After a model version was registered: members of its training set waiting in the
    retrain stage's source state move to its target; every member records the version.
    Returns how many moved."""
    moved = 0
    for doc_id in training_ids:
        try:
            ctx.machine.complete(doc_id, ctx.stage, record, leased=False)
            moved += 1
        except IllegalTransition:
            pass  # not waiting for retraining (e.g. a stable MOF not yet adsorbed)
    ctx.db.structures.update_many({"_id": {"$in": training_ids}},
                                  {"$addToSet": {"retrain_versions": record["model_version"]}})
    return moved
