"""Claim + transition round trips per second on the embedded store.

For 1 and 4 concurrent worker processes at 10 000 and 100 000 documents, each worker
repeatedly leases the newest ``generated`` document (LIFO, as the validate policy does) and
completes it with a small ``validate`` record — the two atomic updates every stage makes.
The baseline, measured in the same run at the same size, is one worker doing the same on
mongomock-ng's in-memory engine — what FireWorks and maggma offer without a server (no
durability, no other process can see it). It scans and copies every document per query,
so it is timed on a few transitions only.

    python benchmarks/bench_transitions.py            # full table (several minutes)
    python benchmarks/bench_transitions.py --quick    # 2 000 documents, for a smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import tempfile
import time

import mongomock_ng

from mofgen.states import StateMachine
from mofgen.stores.connection import INDEXES, connect

CAMPAIGN = "bench"


def make_docs(n: int, atoms: int = 40) -> list[dict]:
    """Documents with a ``structure`` dict of ``atoms`` sites (~6 kB each)."""
    rng = random.Random(0)
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1)
    lattice = {"matrix": [[20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]], "pbc": [True] * 3}
    docs = []
    for i in range(n):
        sites = [{"species": [{"element": "C", "occu": 1}], "abc": [rng.random()] * 3,
                  "label": "C", "properties": {}} for _ in range(atoms)]
        docs.append({
            "_id": f"mof-{i:07d}", "campaign": CAMPAIGN, "kind": "mof", "state": "generated",
            "structure": {"lattice": lattice, "sites": sites}, "history": [],
            "created_at": t0 + dt.timedelta(seconds=i), "updated_at": t0,
        })
    return docs


def _work(collection, transitions: int, worker: str) -> int:
    machine = StateMachine(collection, worker=worker)
    done = 0
    while done < transitions:
        doc = machine.claim("validate", CAMPAIGN, sort=[("created_at", -1)])
        if doc is None:
            break
        machine.complete(doc["_id"], "validate", {"strain": 0.01})
        done += 1
    return done


def _worker(target: str, transitions: int, worker: str, start, results) -> None:
    db = connect(target)
    start.wait()
    results.put(_work(db.structures, transitions, worker))
    db.close()


def embedded_rate(n_docs: int, workers: int, transitions: int) -> float:
    target = tempfile.mkdtemp(prefix="mofgen-bench-") + "/store"
    db = connect(target)
    docs = make_docs(n_docs)
    for i in range(0, n_docs, 5000):
        db.structures.insert_many(docs[i:i + 5000])
    db.close()
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(target, transitions // workers, f"w{k}", start,
                                                results)) for k in range(workers)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    total = sum(results.get() for _ in procs)
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    return total / elapsed


def in_memory_rate(n_docs: int, transitions: int) -> float:
    collection = mongomock_ng.MongoClient()["mofgen"]["structures"]
    for keys in INDEXES["structures"]:
        collection.create_index(keys)
    collection.insert_many(make_docs(n_docs))
    t0 = time.perf_counter()
    done = _work(collection, transitions, "baseline")
    return done / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [2_000] if args.quick else [10_000, 100_000]
    transitions = 80 if args.quick else 400
    rows = []
    for n_docs in sizes:
        baseline = in_memory_rate(n_docs, max(2, 20_000 // n_docs))
        rows.append((n_docs, "in-memory mongomock-ng (baseline)", 1, baseline, 1.0))
        for workers in (1, 4):
            rate = embedded_rate(n_docs, workers, transitions)
            rows.append((n_docs, "embedded SQLite store", workers, rate, rate / baseline))
    print(f"{'documents':>10} | {'engine':<34} | {'workers':>7} | {'transitions/s':>13} | "
          f"{'vs baseline':>11}")
    print("-" * 88)
    for n_docs, engine, workers, rate, ratio in rows:
        print(f"{n_docs:>10} | {engine:<34} | {workers:>7} | {rate:>13.1f} | {ratio:>10.2f}x")


if __name__ == "__main__":
    main()
