"""argparse ``type=`` factories for numbers a command can trust.

``float("nan")``, ``float("inf")`` and ``int("10**400")``-sized values all parse as Python
numbers, and a budget of ``nan`` minutes never runs out. Every numeric option goes through
one of these: a finite number within a stated range, else argparse's one-line usage error
(``mofgen run: error: argument --minutes: ...``) before anything runs.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

_INT_DIGITS = 18  # more digits than any count, seed or port we take, and no int-parsing DoS


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool,
              unit: str) -> str:
    unit = f" {unit}" if unit else ""

    def show(v: float) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    if low is not None and high is not None:
        return (f"a number {'>' if low_open else '>='} {show(low)} and "
                f"{'<' if high_open else '<='} {show(high)}{unit}")
    if low is not None:
        return f"a number {'>' if low_open else '>='} {show(low)}{unit}"
    if high is not None:
        return f"a number {'<' if high_open else '<='} {show(high)}{unit}"
    return f"a finite number{unit}"


def finite_float(low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False,
                 unit: str = "") -> Callable[[str], float]:
    """A ``type=`` that accepts a finite float in ``[low, high]`` (open ends if asked)."""
    wanted = _describe(low, high, low_open, high_open, unit)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def bounded_int(low: int | None = None, high: int | None = None, *,
                unit: str = "") -> Callable[[str], int]:
    """A ``type=`` that accepts a plain integer (no float, no ``1e3``) in ``[low, high]``."""
    wanted = _describe(low, high, False, False, unit).replace("a number", "an integer")

    def parse(text: str) -> int:
        stripped = text.strip() if isinstance(text, str) else ""
        digits = stripped.lstrip("+-").replace("_", "")
        try:
            if len(digits) > _INT_DIGITS:
                raise ValueError
            value = int(stripped)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    parse.__name__ = "integer"
    return parse


# the ranges several commands share
PORT = bounded_int(1, 65535)
SEED = bounded_int(0, 2**32 - 1)
THREADS = bounded_int(1, 1024)
POSITIVE_COUNT = bounded_int(1, 10**9)
# GCMC conditions: above absolute zero, below where any framework survives (MOFs decompose
# below ~800 K; 10 kbar is far past any adsorption isotherm measured on one)
TEMPERATURE_K = finite_float(0, 2000, low_open=True, unit="K")
PRESSURE_BAR = finite_float(0, 10_000, low_open=True, unit="bar")
