"""The campaign runner behind ``mofgen run``: policy daemon + one local launcher per
category, in one process, on any store (embedded directory or MongoDB server).

The campaign document holds a ``runner`` lease (host, pid, heartbeat) so two ``mofgen run``
processes never drive the same campaign; a runner that died (kill -9) leaves a stale lease,
which the next run takes over after re-queuing the Fireworks and freeing the documents the
dead run had in hand. Restarting the same command therefore resumes: nothing completed is
redone (it is in the database), and interrupted work runs again.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument

from mofgen.campaigns import open_campaign, runner_alive, set_status, state_counts
from mofgen.documents import CampaignConfig, utcnow
from mofgen.errors import InvalidInput
from mofgen.kinds import get_kind
from mofgen.launchers.daemon import Daemon
from mofgen.launchers.fireworks import ACTIVE_STATES
from mofgen.launchers.local import LocalLaunchers


def acquire_runner(db, campaign: str) -> dict[str, Any] | None:
    """Take the campaign's runner lease; return the previous (dead) runner, if any."""
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": utcnow(),
          "heartbeat": utcnow()}
    previous = (db.campaigns.find_one({"_id": campaign}, {"runner": 1}) or {}).get("runner")
    if previous:
        if runner_alive(previous):
            raise InvalidInput(
                f"campaign {campaign!r} is being run by pid {previous['pid']} on "
                f"{previous['host']}; stop it first or use another --campaign")
    taken = db.campaigns.find_one_and_update(
        {"_id": campaign, "runner": previous}, {"$set": {"runner": me}},
        return_document=ReturnDocument.AFTER)
    if taken is None:
        raise InvalidInput(f"campaign {campaign!r} was just taken by another mofgen run")
    return previous


def recover_dead_run(db, campaign: str) -> dict[str, int]:
    """After a crash: re-queue the campaign's Fireworks that were running, free its leases."""
    launchpad = db.launchpad()
    stuck = [fw["fw_id"] for fw in db.collection("fireworks").find(
        {"spec.mofgen.campaign": campaign, "state": {"$in": ["RUNNING", "RESERVED"]}},
        {"fw_id": 1})]
    for fw_id in stuck:
        launchpad.rerun_fw(fw_id)
    released = db.structures.update_many(
        {"campaign": campaign, "lock": {"$ne": None}}, {"$unset": {"lock": ""}}).modified_count
    return {"requeued": len(stuck), "released": released}


def requeue_interrupted(db, campaign: str, names: list[str], pids: list[int]
                        ) -> dict[str, int]:
    """After this host's launchers ended: their Fireworks still RUNNING/RESERVED go back
    to READY and the leases their processes held are released, so nothing stays taken."""
    host = socket.gethostname()
    launches = db.collection("launches").find(
        {"state": {"$in": ["RUNNING", "RESERVED"]}, "host": host,
         "fworker.name": {"$in": names}}, {"fw_id": 1})
    fw_ids = {launch["fw_id"] for launch in launches}
    stuck = [fw["fw_id"] for fw in db.collection("fireworks").find(
        {"fw_id": {"$in": sorted(fw_ids)}, "spec.mofgen.campaign": campaign,
         "state": {"$in": ["RUNNING", "RESERVED"]}}, {"fw_id": 1})]
    launchpad = db.launchpad()
    for fw_id in stuck:
        launchpad.rerun_fw(fw_id)
    owners = [{"lock.owner": {"$regex": f"^{re.escape(host)}:{pid}:"}} for pid in pids]
    released = db.structures.update_many(
        {"campaign": campaign, "$or": owners}, {"$unset": {"lock": ""}}).modified_count \
        if owners else 0
    return {"requeued": len(stuck), "released": released}


class CampaignRunner:
    def __init__(self, db, campaign: str, config: CampaignConfig | None = None,
                 minutes: float | None = None, max_structures: int | None = None,
                 interval_s: float = 3.0, out=sys.stdout):
        """``config=None`` resumes with the stored config (or the defaults for a new one)."""
        self.db, self.campaign, self.config = db, campaign, config
        self.minutes, self.max_structures = minutes, max_structures
        self.interval_s, self.out = interval_s, out
        self.stop = threading.Event()

    def launch_dir(self) -> str:
        base = Path(self.db.target) if self.db.embedded else Path.cwd() / "mofgen-launches"
        return str(base / "launches" / self.campaign)

    def run(self) -> dict[str, Any]:
        self.config = open_campaign(self.db, self.campaign, self.config).config
        if self.minutes is None:
            self.minutes = self.config.budget.minutes
        if self.max_structures is None:
            self.max_structures = self.config.budget.max_structures
        self.config.budget.max_structures = self.max_structures
        previous = acquire_runner(self.db, self.campaign)
        recovered = recover_dead_run(self.db, self.campaign) if previous else {}
        if recovered:
            self._say(f"resumed after an interrupted run: {recovered}")
        set_status(self.db, self.campaign, "running")
        try:
            daemon = Daemon(self.db, self.campaign, self.config, say=self._say)
        except BaseException:  # e.g. Ctrl-C while the hull is built: leave no stale runner
            self._release()
            raise
        r = self.config.resources
        launchers = LocalLaunchers(self.db.target, {"gpu": r.gpu, "cpu": r.cpu, "mpi": r.mpi},
                                   self.launch_dir(), campaign=self.campaign)
        launchers.start()
        started, reason, last_line, idle_rounds = time.monotonic(), "stopped", "", 0
        try:
            while not self.stop.is_set():
                decisions = daemon.round()
                self.db.campaigns.update_one({"_id": self.campaign},
                                             {"$set": {"runner.heartbeat": utcnow()}})
                line = self._progress()
                if line != last_line:
                    self._say(line)
                    last_line = line
                if self.minutes is not None and time.monotonic() - started > self.minutes * 60:
                    reason = f"time budget of {self.minutes} min spent"
                    break
                if self._structure_budget_done():
                    reason = f"all {self.max_structures} structures finished"
                    break
                # two quiet rounds in a row: a task finishing between deciding and looking
                # may still make work for the next round
                quiet = not decisions and daemon.policy.exhausted() and not self._active()
                idle_rounds = idle_rounds + 1 if quiet else 0
                if idle_rounds >= 2:
                    reason = "every candidate of the generator processed"
                    break
                self.stop.wait(self.interval_s)
            else:
                reason = "interrupted"
        finally:
            grace = self.config.stop_grace_seconds
            self._say(f"stopping ({reason}); waiting up to {grace:g} s for running tasks")
            launchers.shutdown(grace)
            requeued = requeue_interrupted(self.db, self.campaign, launchers.names,
                                           launchers.pids)
            if any(requeued.values()):
                self._say(f"interrupted tasks queued again: {requeued}")
            self._release()
        return {"campaign": self.campaign, "reason": reason,
                "states": state_counts(self.db, self.campaign)}

    def _release(self) -> None:
        self.db.campaigns.update_one({"_id": self.campaign}, {"$unset": {"runner": ""}})
        set_status(self.db, self.campaign, "stopped")

    def _structure_budget_done(self) -> bool:
        if self.max_structures is None:
            return False
        query = {"campaign": self.campaign}
        total = self.db.structures.count_documents(query)
        if total < self.max_structures:
            return False
        return not self._active()

    def _active(self) -> bool:
        """Any of the campaign's Fireworks waiting, reserved or running."""
        return self.db.collection("fireworks").count_documents(
            {"spec.mofgen.campaign": self.campaign, "state": {"$in": list(ACTIVE_STATES)}}) > 0

    def _progress(self) -> str:
        counts = state_counts(self.db, self.campaign)
        text = " ".join(f"{k}={v}" for k, v in counts.items() if v) or "no structures yet"
        extra = get_kind(self.config.kind).progress(self.db, self.campaign, self.config)
        return f"[{self.campaign}] {text}" + (f" | {extra}" if extra else "")

    def _say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {text}", file=self.out, flush=True)
