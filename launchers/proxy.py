"""Colmena's proxy task: sleep for a given time and return a payload of a given size.

Used by ``benchmarks/bench_workflow.py`` to measure what the workflow machinery itself
costs (the task does no science); it lives in the package so launcher processes can import
it like any stage job.
"""

from __future__ import annotations

import time

from jobflow import job


@job
def proxy_task(duration_s: float, nbytes: int) -> dict:
    started = time.time()
    time.sleep(duration_s)
    return {"started": started, "ended": time.time(), "payload": "x" * nbytes}
