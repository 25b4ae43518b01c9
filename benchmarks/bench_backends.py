"""What each database operation of a campaign costs on each backend, in one run.

Operations: the claim + transition round trip every stage makes (lease the newest
``generated`` document, complete it), and the policy daemon's two reads per round —
``launchers.fireworks.in_flight`` (active Fireworks of the campaign) and the policy's
``decide`` (what to queue next). Backends: the embedded store (the baseline: ratios are
cost on the server / cost on the embedded store, measured in this run at the same size) and
a MongoDB-wire-protocol server — SecantusDB started here on 127.0.0.1, or ``--uri``.

    python benchmarks/bench_backends.py            # 300 and 3 000 documents
    python benchmarks/bench_backends.py --uri mongodb://host:27017/
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mofgen.documents import CampaignConfig
from mofgen.kinds import get_kind
from mofgen.launchers.fireworks import in_flight
from mofgen.states import StateMachine
from mofgen.stores.connection import connect

CAMPAIGN = "bench"
STATES = ["generated", "validated", "simulated", "adsorbed", "rejected"]


def make_docs(n: int, atoms: int = 40) -> list[dict]:
    """Structure documents (~6 kB each), half waiting for validation, the rest spread over
    the later states with the stage numbers the policy sorts by."""
    rng = random.Random(0)
    t0 = dt.datetime(2026, 1, 1)
    lattice = {"matrix": [[20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]], "pbc": [True] * 3}
    docs = []
    for i in range(n):
        state = "generated" if i % 2 == 0 else STATES[1 + (i // 2) % (len(STATES) - 1)]
        sites = [{"species": [{"element": "C", "occu": 1}], "abc": [rng.random()] * 3,
                  "label": "C", "properties": {}} for _ in range(atoms)]
        doc = {"_id": f"mof-{i:07d}", "campaign": CAMPAIGN, "kind": "mof", "state": state,
               "structure": {"lattice": lattice, "sites": sites}, "history": [],
               "created_at": t0 + dt.timedelta(seconds=i), "updated_at": t0}
        if state != "generated":
            doc["validate"] = {"strain": rng.random() * 0.3}
        if state in ("simulated", "adsorbed"):
            doc["simulate"] = {"energy_per_atom": -rng.random()}
        if state == "adsorbed":
            doc["adsorb"] = {"co2_uptake": rng.random() * 5}
        docs.append(doc)
    return docs


def make_fireworks(n_docs: int) -> list[dict]:
    """What the LaunchPad holds mid-campaign: one Firework per document, a few active."""
    fireworks = []
    for i in range(n_docs):
        state = "READY" if i % 20 == 0 else "RUNNING" if i % 20 == 1 else "COMPLETED"
        fireworks.append({"fw_id": i + 1, "state": state, "name": f"validate mof-{i:07d}",
                          "spec": {"_category": "cpu", "_priority": 1,
                                   "mofgen": {"campaign": CAMPAIGN, "stage": "validate",
                                              "doc_id": f"mof-{i:07d}"}}})
    return fireworks


def seed(target: str, n_docs: int) -> None:
    db = connect(target)
    docs = make_docs(n_docs)
    for i in range(0, n_docs, 1000):
        db.structures.insert_many(docs[i:i + 1000])
    db.collection("fireworks").insert_many(make_fireworks(n_docs))
    db.collection("fireworks").create_index("state")
    db.close()


def per_op(operation: Callable[[], object], repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    operation()
    t0 = time.perf_counter()
    for _ in range(repeats):
        operation()
    return (time.perf_counter() - t0) / repeats


def measure(target: str, n_docs: int, repeats: dict[str, int]) -> dict[str, float]:
    seed(target, n_docs)
    db = connect(target)
    machine = StateMachine(db.structures, worker="bench")
    policy = get_kind("mof").policy(db, CAMPAIGN, CampaignConfig())

    def round_trip() -> None:
        doc = machine.claim("validate", CAMPAIGN, sort=[("created_at", -1)])
        machine.complete(doc["_id"], "validate", {"strain": 0.01})

    costs = {"claim + transition": per_op(round_trip, repeats["claim"]),
             "in_flight (daemon)": per_op(lambda: in_flight(db, CAMPAIGN), repeats["read"]),
             "policy decide (daemon)": per_op(lambda: policy.decide(in_flight(db, CAMPAIGN)),
                                              repeats["read"])}
    db.close()
    return costs


def start_server(storage: Path) -> tuple[subprocess.Popen, str]:
    """The test suite's SecantusDB starter (a test-only dependency, like this benchmark)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import start_secantus

    return start_secantus(storage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="a MongoDB server to use instead of starting SecantusDB")
    parser.add_argument("--sizes", default="300,3000", help="documents, comma-separated")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mofgen-bench-backends-"))
    process, uri = (None, args.uri) if args.uri else start_server(scratch / "secantus")
    server_name = "MongoDB server" if args.uri else "SecantusDB 0.7 (wire protocol)"
    rows = []
    try:
        for n_docs in (int(s) for s in args.sizes.split(",")):
            repeats = {"claim": 40 if n_docs <= 1000 else 15, "read": 20}
            embedded = measure(str(scratch / f"embedded-{n_docs}"), n_docs, repeats)
            target = f"{uri.split('?')[0].rstrip('/')}/bench_{uuid.uuid4().hex[:8]}"
            try:
                server = measure(target, n_docs, repeats)
            finally:
                handle = connect(target, create=False)
                handle.client.drop_database(handle.name)
                handle.close()
            for operation, base in embedded.items():
                rows.append((n_docs, operation, "embedded store (baseline)", base, 1.0))
                rows.append((n_docs, operation, server_name, server[operation],
                             server[operation] / base))
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    print(f"{'documents':>9} | {'operation':<24} | {'backend':<32} | {'ms/op':>9} | "
          f"{'ops/s':>8} | {'cost vs embedded':>16}")
    print("-" * 112)
    for n_docs, operation, backend, seconds, ratio in rows:
        print(f"{n_docs:>9} | {operation:<24} | {backend:<32} | {seconds * 1e3:>9.2f} | "
              f"{1 / seconds:>8.1f} | {ratio:>15.2f}x")


if __name__ == "__main__":
    main()
