"""Workflow overhead: Colmena's proxy application on mofgen's machinery vs plain FireWorks.

mofgen path: a steering loop (what the daemon does each round) keeps N proxy tasks in
flight on the embedded store, inserting a workflow whenever one finishes; two local
launcher processes run them. Measured per task (Colmena, §5):
  * reaction  — task end → the steering loop sees it completed,
  * decision  — the loop deciding what to insert (policy time),
  * dispatch  — workflow inserted → task starts on a launcher.
Baseline, same run, same store: the same number of tasks inserted at once as a bag and
run by two plain FireWorks ``rapidfire`` processes.

    python benchmarks/bench_workflow.py [--tasks 60] [--in-flight 4] [--mean-s 0.2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import tempfile
import time

from mofgen.launchers.fireworks import in_flight, stage_workflow, submit
from mofgen.launchers.local import LocalLaunchers
from mofgen.launchers.proxy import proxy_task
from mofgen.stores.connection import connect

CAMPAIGN = "proxy"


def _tasks(n: int, mean_s: float, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.expovariate(1 / mean_s) for _ in range(n)]


def _outputs(db) -> dict[str, dict]:
    return {d["uuid"]: d["output"] for d in db.collection("outputs").find({}, {"uuid": 1,
                                                                              "output": 1})}


def steered(durations: list[float], in_flight_n: int, nbytes: int) -> dict:
    db = connect(tempfile.mkdtemp(prefix="mofgen-proxy-") + "/store")
    launchers = LocalLaunchers(db.target, {"cpu": 2}, db.target + "/launches")
    launchers.start()
    inserted: dict[str, float] = {}
    seen: dict[str, float] = {}
    decisions: list[float] = []
    todo = list(durations)
    t0 = time.perf_counter()
    while todo or len(seen) < len(durations):
        tic = time.time()
        flight = in_flight(db, CAMPAIGN)
        done = {fw["spec"]["mofgen"]["doc_id"] for fw in db.collection("fireworks").find(
            {"state": "COMPLETED"}, {"spec.mofgen.doc_id": 1})}
        for key in done - seen.keys():
            seen[key] = tic
        free = in_flight_n - sum(flight["stages"].values())
        new = [todo.pop() for _ in range(min(free, len(todo)))]
        decisions.append(time.time() - tic)
        for duration in new:
            job = proxy_task(duration, nbytes)
            workflow = stage_workflow(job, db, CAMPAIGN, "proxy", "cpu", 1, doc_ids=[job.uuid])
            inserted[job.uuid] = time.time()
            submit(db, [workflow])
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    launchers.shutdown()
    outputs = _outputs(db)
    return {
        "tasks_per_s": len(durations) / elapsed,
        "reaction_s": statistics.median(seen[k] - outputs[k]["ended"] for k in outputs),
        "decision_s": statistics.median(decisions),
        "dispatch_s": statistics.median(outputs[k]["started"] - inserted[k] for k in outputs),
        "busy_fraction": sum(durations) / (2 * elapsed),
    }


def _rapidfire(target: str, name: str) -> None:
    import logging
    import os
    import sys

    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire

    os.chdir(tempfile.mkdtemp())
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    logging.basicConfig(stream=sys.stdout, force=True)
    db = connect(target)
    rapidfire(db.launchpad(), FWorker(name=name, category="cpu"), nlaunches=0,
              sleep_time=0, strm_lvl="ERROR")


def bag_of_tasks(durations: list[float], nbytes: int) -> dict:
    db = connect(tempfile.mkdtemp(prefix="mofgen-bag-") + "/store")
    jobs = [proxy_task(d, nbytes) for d in durations]
    submit(db, [stage_workflow(j, db, CAMPAIGN, "proxy", "cpu", 1, doc_ids=[j.uuid])
                for j in jobs])
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_rapidfire, args=(db.target, f"rf{k}")) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    return {"tasks_per_s": len(durations) / elapsed,
            "busy_fraction": sum(durations) / (2 * elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--mean-s", type=float, default=0.5)
    parser.add_argument("--nbytes", type=int, default=10_000)
    args = parser.parse_args()
    durations = _tasks(args.tasks, args.mean_s)
    ours = steered(durations, args.in_flight, args.nbytes)
    base = bag_of_tasks(durations, args.nbytes)
    print(f"{args.tasks} proxy tasks, mean {args.mean_s} s, {args.nbytes} B results, "
          f"2 launchers, {args.in_flight} in flight (steered)")
    print(f"{'run':<42} | {'tasks/s':>8} | {'ratio':>6} | {'busy':>5} | reaction | decision "
          "| dispatch")
    print("-" * 100)
    print(f"{'plain FireWorks rapidfire, bag of tasks':<42} | {base['tasks_per_s']:>8.2f} | "
          f"{1.0:>6.2f} | {base['busy_fraction']:>5.2f} |        - |        - |        -")
    print(f"{'mofgen steering loop + local launchers':<42} | {ours['tasks_per_s']:>8.2f} | "
          f"{ours['tasks_per_s'] / base['tasks_per_s']:>6.2f} | {ours['busy_fraction']:>5.2f} | "
          f"{ours['reaction_s']:>7.3f}s | {ours['decision_s']:>7.3f}s | "
          f"{ours['dispatch_s']:>7.3f}s")


if __name__ == "__main__":
    main()
