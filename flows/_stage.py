"""What every stage job does around its science: claim, compute, write the outcome.

A job receives a document id and the ``--db`` target, leases the document through the
state machine, runs its computation in the launch directory, and ends in exactly one
transition: the stage's target state, ``rejected`` (with the number that decided) or
``failed`` (with the tool's message). A job that finds its document already taken or moved
on does nothing, so re-running a Firework after a crash is harmless.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Maker, job

from mofgen.errors import IllegalTransition, MofgenError
from mofgen.states import STAGES, StateMachine, default_worker_id
from mofgen.stores.connection import connect

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """The result of a stage's computation, before it is written."""

    record: dict[str, Any] = field(default_factory=dict)
    reject_reason: str | None = None
    value: float | None = None
    threshold: float | None = None
    failure: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


Compute = Callable[[dict, Path], Outcome]


@dataclass
class StageMaker(Maker):
    """A Maker for one stage of one document: subclasses set ``name`` and ``compute``."""

    name: str = "stage"

    @job
    def make(self, doc_id: str, db: str) -> dict:
        return run_stage(self.name, doc_id, db, self.compute)

    def compute(self, doc: dict, workdir: Path) -> Outcome:
        raise NotImplementedError


def run_stage(stage: str, doc_id: str, db_target: str, compute: Compute) -> dict[str, Any]:
    """Lease ``doc_id`` for ``stage``, run ``compute(doc, workdir)``, write one transition."""
    db = connect(db_target)
    machine = StateMachine(db.structures, worker=default_worker_id())
    try:
        doc = machine.claim_id(doc_id, stage)
        if doc is None:
            current = db.structures.find_one({"_id": doc_id}, {"state": 1}) or {}
            return {"doc_id": doc_id, "stage": stage, "outcome": "skipped",
                    "state": current.get("state")}
        workdir = Path.cwd() / f"{stage}-{doc_id}"
        workdir.mkdir(parents=True, exist_ok=True)
        outcome, failure = _guarded(compute, doc, workdir, what=f"stage {stage} on {doc_id}")
        if failure is not None:
            outcome = Outcome(failure=failure)
        outcome.record.setdefault("workdir", str(workdir))
        return write_outcome(machine, doc_id, stage, outcome)
    finally:
        db.close()


def _guarded(compute: Callable[..., Any], *args: Any, what: str) -> tuple[Any, str | None]:
    """``(compute(*args), None)``, or ``(None, message)`` when it raised.

    mofgen's own errors are expected outcomes (one line); anything else is a broken tool
    or library, recorded with its trace in the worker's log.
    """
    try:
        return compute(*args), None
    except MofgenError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        log.error("%s raised:\n%s", what, traceback.format_exc())
        return None, f"{type(exc).__name__}: {exc}"[:2000]


def write_outcome(machine: StateMachine, doc_id: str, stage: str, outcome: Outcome
                  ) -> dict[str, Any]:
    """End a leased stage in exactly one transition: failed, rejected or the stage's target."""
    try:
        if outcome.failure is not None:
            after = machine.fail(doc_id, stage, outcome.failure)
        elif outcome.reject_reason is not None:
            after = machine.reject(doc_id, stage, outcome.reject_reason, outcome.value,
                                   outcome.threshold, record=outcome.record)
        else:
            after = machine.complete(doc_id, stage, outcome.record, versions=outcome.versions)
    except IllegalTransition as exc:  # our lease expired and someone else took over
        return {"doc_id": doc_id, "stage": stage, "outcome": "lost-lease", "message": str(exc)}
    return {"doc_id": doc_id, "stage": stage, "outcome": after["state"],
            "target": STAGES[stage].target.value}


BatchCompute = Callable[[list[dict], Path], dict[str, Outcome]]


def run_batch_stage(stage: str, doc_ids: list[str], db_target: str,
                    compute: BatchCompute) -> dict[str, Any]:
    """:func:`run_stage` for many documents at once (batched ML inference).

    Every document that can be leased is; ``compute`` sees them together and returns one
    :class:`Outcome` per id; a document it leaves out, or a crash of the whole batch,
    ends as ``failed`` so nothing stays leased.
    """
    db = connect(db_target)
    machine = StateMachine(db.structures, worker=default_worker_id())
    try:
        docs = [d for d in (machine.claim_id(i, stage) for i in doc_ids) if d is not None]
        results = {i: {"doc_id": i, "stage": stage, "outcome": "skipped"} for i in doc_ids}
        if not docs:
            return {"stage": stage, "results": list(results.values())}
        workdir = Path.cwd() / f"{stage}-batch-{docs[0]['_id']}"
        workdir.mkdir(parents=True, exist_ok=True)
        outcomes, failure = _guarded(compute, docs, workdir, what=f"batch {stage}")
        outcomes = outcomes or {}
        message = failure or "the batch computation returned no outcome for this document"
        for doc in docs:
            outcome = outcomes.get(doc["_id"]) or Outcome(failure=message)
            results[doc["_id"]] = write_outcome(machine, doc["_id"], stage, outcome)
        return {"stage": stage, "results": list(results.values())}
    finally:
        db.close()
