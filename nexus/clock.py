"""One injectable clock for code that reads the time, so tests move time without sleeping."""

from __future__ import annotations


class ManualClock:
    """A clock a test controls: ``clock()`` reads it, ``clock.advance(s)`` (or ``sleep(s)``) moves it.

    Pass it wherever code would call ``time.monotonic`` or ``time.time``.
    """

    def __init__(self, now: float = 1_000.0):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self.now += seconds
        return self.now

    sleep = advance

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now:g})"
