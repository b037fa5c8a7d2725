"""Timing helpers that return numbers, so notebooks can assert on them and plot them."""

from __future__ import annotations

import inspect
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Seconds per call for each repeat of a measurement."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        return min(self.runs)

    def __str__(self) -> str:
        return f"median {format_seconds(self.median)} (best {format_seconds(self.best)}, {len(self.runs)} runs)"


def format_seconds(seconds: float) -> str:
    """Human units: 12.3 µs, 4.56 ms, 1.23 s."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def measure(fn, *args, repeat: int = 5, number: int = 1, warmup: int = 1, **kwargs) -> Timing:
    """Call ``fn(*args, **kwargs)`` ``number`` times per run, ``repeat`` runs; seconds per call."""
    if inspect.iscoroutinefunction(fn):
        raise TypeError("measure() got a coroutine function; use `await ameasure(...)` instead")
    for _ in range(warmup):
        fn(*args, **kwargs)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args, **kwargs)
        runs.append((time.perf_counter() - start) / number)
    return Timing(runs)


async def ameasure(fn, *args, repeat: int = 5, number: int = 1, warmup: int = 0, **kwargs) -> Timing:
    """``measure`` for a coroutine function: ``await ameasure(fetch_all, n)``."""
    for _ in range(warmup):
        await fn(*args, **kwargs)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            await fn(*args, **kwargs)
        runs.append((time.perf_counter() - start) / number)
    return Timing(runs)


class Stopwatch:
    elapsed: float = 0.0


@contextmanager
def stopwatch():
    """``with stopwatch() as sw: ...`` then read ``sw.elapsed`` (seconds)."""
    sw = Stopwatch()
    start = time.perf_counter()
    try:
        yield sw
    finally:
        sw.elapsed = time.perf_counter() - start


def sweep(sizes, variants: dict, *, repeat: int = 3, number: int = 1):
    """Time each variant at each size; returns a tidy DataFrame (size, variant, seconds).

    ``variants`` maps a label to ``make(size)``, which does any setup and returns the
    zero-argument callable to time. Setup is therefore never part of the measurement.
    """
    import pandas as pd

    rows = []
    for size in sizes:
        for label, make in variants.items():
            fn = make(size)
            t = measure(fn, repeat=repeat, number=number)
            rows.append({"size": size, "variant": label, "seconds": t.median, "best": t.best})
    return pd.DataFrame(rows)


def growth_exponent(sizes, seconds) -> float:
    """Slope of log(time) against log(size): about 1 for linear cost, about 0 for constant."""
    import numpy as np

    return float(np.polyfit(np.log(list(sizes)), np.log(list(seconds)), 1)[0])
