"""Small statistics the read side reports with its numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Score interval of a proportion (95 % for z = 1.96; Wilson 1927): sound at small
    ``n`` and at 0 or ``n`` successes, where the normal approximation is not."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ReplicaSummary:
    """Mean and spread of one quantity over independent replicas of a calculation.

    ``std`` is the sample standard deviation (n − 1), ``sem`` the standard error of the
    mean (std/√n); both are None for a single replica, whose spread was not measured
    (reporting 0 would claim a certainty nobody measured).
    """

    mean: float
    std: float | None
    sem: float | None
    n: int


def summarize_replicas(values: Sequence[float]) -> ReplicaSummary:
    """:class:`ReplicaSummary` of ``values`` (at least one finite number)."""
    data = [float(v) for v in values]
    if not data or not all(math.isfinite(v) for v in data):
        raise ValueError(f"replica values must be finite and at least one, got {data}")
    n = len(data)
    mean = math.fsum(data) / n
    if n == 1:
        return ReplicaSummary(mean, None, None, 1)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (n - 1))
    return ReplicaSummary(mean, std, std / math.sqrt(n), n)
