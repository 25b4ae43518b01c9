"""Worker processes for the concurrency and crash tests (run with ``python -m``)."""

from __future__ import annotations

import sys
import time

from mofgen.states import StateMachine
from mofgen.stores.connection import connect


def advance_all(target: str, worker: str, stage: str = "validate") -> list[str]:
    """Claim and complete documents for ``stage`` until none is left; return the ids done."""
    db = connect(target)
    machine = StateMachine(db.structures, worker=worker)
    done = []
    while True:
        doc = machine.claim(stage, campaign="race")
        if doc is None:
            break
        machine.complete(doc["_id"], stage, {"strain": 0.01, "workdir": worker})
        done.append(doc["_id"])
    db.close()
    return done


def stream_transitions(target: str) -> None:
    """Advance every document one by one, printing each id once its transition returned."""
    db = connect(target)
    machine = StateMachine(db.structures, worker="streamer")
    while True:
        doc = machine.claim("validate", campaign="crash")
        if doc is None:
            break
        machine.complete(doc["_id"], "validate", {"strain": 0.02})
        print(doc["_id"], flush=True)


def watch_counts(target: str, reads: int = 2000) -> None:
    """Read the live store until three different counts were seen (or ``reads`` reads)."""
    from mofgen.campaigns import state_counts

    db = connect(target, create=False)
    seen: set[int] = set()
    for _ in range(reads):
        validated = state_counts(db, "crash")["validated"]
        seen.add(validated)
        print(validated, flush=True)
        if len(seen) >= 3:
            break
        time.sleep(0.01)


if __name__ == "__main__":
    command, target = sys.argv[1], sys.argv[2]
    if command == "stream":
        stream_transitions(target)
    elif command == "watch":
        watch_counts(target)
