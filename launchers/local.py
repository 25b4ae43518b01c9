"""Local launchers: one process per category pulling Fireworks, as ``rlaunch`` would.

A launcher is a plain FireWorks rocket loop (``launch_rocket`` with an ``FWorker`` whose
``category`` selects its queue) that checks a stop event between rockets, so Ctrl-C or a
time budget ends it after the running task, and a kill loses only that task (its lease
expires, FireWorks' lost-run detection re-queues it).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """A launcher must not outlive its ``mofgen run`` (kill -9 included): it would keep
    working on documents the next run re-queues."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def launcher_loop(db_target: str, category: str, name: str, launch_dir: str, stop,
                  campaign: str | None = None, idle_s=0.5):
    """Pull and run Fireworks of ``category`` (of ``campaign`` only, if given) until
    ``stop`` is set."""
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    from mofgen.stores.connection import connect

    _die_with_parent()
    # Ctrl-C reaches the whole process group: the run decides, the launcher finishes its task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    Path(launch_dir).mkdir(parents=True, exist_ok=True)
    os.chdir(launch_dir)
    # FireWorks, jobflow and the codes they run log to this launcher's own file; the
    # terminal keeps the campaign's progress lines.
    log_file = open(Path(launch_dir) / f"{name}.log", "a", buffering=1)  # noqa: SIM115
    for fd in (1, 2):  # C libraries (Open Babel, RDKit) write to the descriptors directly
        os.dup2(log_file.fileno(), fd)
    sys.stdout = sys.stderr = log_file
    logging.basicConfig(stream=log_file, level=logging.INFO, force=True)
    db = connect(db_target)
    launchpad = db.launchpad()
    query = {"spec.mofgen.campaign": campaign} if campaign else {}
    worker = FWorker(name=name, category=category, query=query)
    while not stop.is_set():
        if not launch_rocket(launchpad, worker, strm_lvl="ERROR"):
            stop.wait(idle_s)
    db.close()


class LocalLaunchers:
    """Start and stop one launcher process per requested category and count.

    With ``campaign``, the launchers take only that campaign's Fireworks, so two
    campaigns sharing a database never run each other's work.
    """

    def __init__(self, db_target: str, counts: dict[str, int], launch_dir: str,
                 campaign: str | None = None):
        self.ctx = mp.get_context("spawn")
        self.stop = self.ctx.Event()
        self.processes: list = []
        for category, count in counts.items():
            for k in range(count):
                name = f"local-{category}-{k}"
                proc = self.ctx.Process(
                    target=launcher_loop, name=name, daemon=True,
                    args=(db_target, category, name, launch_dir, self.stop, campaign),
                )
                self.processes.append(proc)

    def start(self) -> None:
        for proc in self.processes:
            proc.start()

    def alive(self) -> int:
        return sum(proc.is_alive() for proc in self.processes)

    @property
    def names(self) -> list[str]:
        return [proc.name for proc in self.processes]

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.processes if proc.pid is not None]

    def shutdown(self, grace_s: float = 30.0) -> list[str]:
        """Ask every launcher to stop after its current rocket; after ``grace_s`` in all,
        end the stragglers (their engine processes die with them). Returns the names of
        the launchers that had to be ended, whose tasks were interrupted."""
        self.stop.set()
        deadline = time.monotonic() + grace_s
        for proc in self.processes:
            proc.join(max(0.0, deadline - time.monotonic()))
        ended = []
        for proc in self.processes:
            if proc.is_alive():
                ended.append(proc.name)
                proc.terminate()
                proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        return ended
