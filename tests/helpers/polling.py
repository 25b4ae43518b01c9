"""Waiting for a condition that another process makes true (campaign and crash tests)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout_s: float = 600, every_s: float = 0.5):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError("condition not reached in time")
