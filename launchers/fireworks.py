"""Stage jobs as FireWorks workflows, and what is in flight on the LaunchPad.

Each workflow wraps one jobflow job (converted with jobflow's own ``flow_to_workflow``) whose
Firework spec carries ``_category`` (gpu/cpu/mpi, matched by ``FWorker.category``),
``_priority`` and a ``mofgen`` block naming campaign, stage and document, so the daemon can
tell what is queued without a second bookkeeping collection.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fireworks import Workflow
from jobflow import Flow, Job
from jobflow.managers.fireworks import flow_to_workflow

ACTIVE_STATES = ("WAITING", "READY", "RESERVED", "RUNNING")


def stage_workflow(
    job: Job, db, campaign: str, stage: str, category: str, priority: int,
    doc_ids: list[str] | None = None,
) -> Workflow:
    """One job → one FireWorks workflow on ``category`` with ``priority``.

    ``doc_ids`` names the documents the job works on (one for a per-structure job, none
    for a campaign-wide one); ``doc_id`` repeats a single one for ``lpad`` queries.
    """
    doc_ids = list(doc_ids or [])
    tag: dict[str, Any] = {"campaign": campaign, "stage": stage,
                           "doc_id": doc_ids[0] if len(doc_ids) == 1 else None,
                           "doc_ids": doc_ids}
    job.update_config({"manager_config": {"_category": category, "_priority": priority,
                                          "mofgen": tag}})
    label = tag["doc_id"] or (f"{len(doc_ids)} structures" if doc_ids else campaign)
    flow = Flow([job], name=f"{stage} {label}")
    workflow = flow_to_workflow(flow, store=db.job_store())
    workflow.metadata.update(tag)
    return workflow


def submit(db, workflows: list[Workflow]) -> list[int]:
    launchpad = db.launchpad()
    fw_ids = []
    for workflow in workflows:
        id_map = launchpad.add_wf(workflow)
        fw_ids.extend(id_map.values())
    return fw_ids


def in_flight(db, campaign: str) -> dict[str, Any]:
    """Active Fireworks of a campaign: per stage the documents, per category the READY count."""
    docs: dict[str, set[str]] = defaultdict(set)
    stages: dict[str, int] = defaultdict(int)
    ready: dict[str, int] = defaultdict(int)
    running: dict[str, int] = defaultdict(int)
    cursor = db.collection("fireworks").find(
        {"state": {"$in": list(ACTIVE_STATES)}, "spec.mofgen.campaign": campaign},
        {"state": 1, "spec._category": 1, "spec.mofgen": 1},
    )
    for fw in cursor:
        tag, category = fw["spec"]["mofgen"], fw["spec"].get("_category", "cpu")
        stages[tag["stage"]] += 1
        docs[tag["stage"]].update(tag.get("doc_ids") or ())
        if tag.get("doc_id"):  # Fireworks written before doc_ids was always set
            docs[tag["stage"]].add(tag["doc_id"])
        if fw["state"] in ("READY", "WAITING"):
            ready[category] += 1
        else:
            running[category] += 1
    return {"docs": docs, "stages": stages, "ready": ready, "running": running}
