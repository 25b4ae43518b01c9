"""The policy daemon: reads the database, inserts just enough work, recovers lost work.

One round = recover (lost Fireworks re-queued, expired leases released) → look at what is
in flight → ask :class:`mofgen.policy.Policy` → materialise its decisions as FireWorks
workflows → log each decision with the numbers that caused it (``decisions`` collection).
``mofgen daemon`` runs rounds forever against a cluster's MongoDB; ``mofgen run`` runs them
beside local launchers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mofgen.documents import CampaignConfig, utcnow
from mofgen.kinds import get_kind
from mofgen.launchers.fireworks import in_flight, stage_workflow, submit
from mofgen.policy import Decision

log = logging.getLogger("mofgen.daemon")

LOST_RUN_SECONDS = 4 * 3600  # FireWorks pings running launches; silence this long = dead


class Daemon:
    def __init__(self, db, campaign: str, config: CampaignConfig, say=None):
        self.db, self.campaign, self.config = db, campaign, config
        self.kind = get_kind(config.kind)
        self.policy = self.kind.policy(db, campaign, config)
        self.makers = self.kind.makers(config)
        self.kind.on_start(db, campaign, config, say or log.info)

    def recover(self, lost_after_s: float = LOST_RUN_SECONDS) -> dict[str, Any]:
        """Re-queue Fireworks whose worker died and free documents whose lease expired."""
        launchpad = self.db.launchpad()
        lost_launches, lost_fws, _ = launchpad.detect_lostruns(
            expiration_secs=lost_after_s, rerun=True)
        # A lost run's documents are still leased to the dead worker (leases outlive any
        # lost-run expiration); the re-queued Firework would find them taken and skip.
        lost_docs: list[str] = []
        for fw in self.db.collection("fireworks").find(
                {"fw_id": {"$in": list(lost_fws)}}, {"spec.mofgen": 1}):
            tag = fw.get("spec", {}).get("mofgen") or {}
            lost_docs.extend([tag["doc_id"]] if tag.get("doc_id") else [])
            lost_docs.extend(tag.get("doc_ids") or [])
        expired = {"lock.expires": {"$lt": utcnow()}}
        if lost_docs:
            expired = {"$or": [expired, {"_id": {"$in": lost_docs}}]}
        released = self.db.structures.update_many(
            {"campaign": self.campaign, "lock": {"$ne": None}, **expired},
            {"$unset": {"lock": ""}},
        ).modified_count
        if lost_fws or released:
            self._log("recover", f"re-queued {len(lost_fws)} lost Firework(s), released "
                      f"{released} expired lease(s)", {"fw_ids": lost_fws, "leases": released})
        return {"requeued": lost_fws, "released": released}

    def round(self) -> list[Decision]:
        self.recover()
        flight = in_flight(self.db, self.campaign)
        decisions = self.policy.decide(flight)
        for decision in decisions:
            if decision.stage not in self.makers:
                continue
            workflows = self._workflows(decision)
            fw_ids = submit(self.db, workflows)
            self._log(decision.stage, decision.reason, decision.evidence, fw_ids,
                      decision.doc_ids)
        return decisions

    def _workflows(self, decision: Decision) -> list:
        """One workflow per job: a job per structure, per batch, or per campaign decision,
        as the stage's scope in the kind's ladder says."""
        maker, target = self.makers[decision.stage], self.db.target
        scope = self.kind.stage(decision.stage).scope
        if scope == "structure":
            groups = [[doc_id] for doc_id in decision.doc_ids]
        elif scope == "batch":
            groups = [decision.doc_ids] if decision.doc_ids else []
        else:
            groups = [[]]
        return [stage_workflow(maker.make(target, self.campaign, ids, decision.params or None),
                               self.db, self.campaign, decision.stage, decision.category,
                               decision.priority, doc_ids=ids) for ids in groups]

    def _log(self, stage: str, reason: str, evidence: dict, fw_ids: list | None = None,
             doc_ids: list | None = None) -> None:
        entry = {"campaign": self.campaign, "time": utcnow(), "stage": stage,
                 "reason": reason, "evidence": evidence, "fw_ids": fw_ids or [],
                 "doc_ids": doc_ids or []}
        self.db.collection("decisions").insert_one(entry)
        log.info("%s: %s %s", stage, reason, evidence)

    def run_forever(self, interval_s: float = 10.0, stop=None) -> None:
        while stop is None or not stop.is_set():
            self.round()
            if stop is not None:
                stop.wait(interval_s)
            else:
                time.sleep(interval_s)
