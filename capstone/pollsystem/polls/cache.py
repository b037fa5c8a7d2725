"""The results cache, invalidated by generation.

A reader looks up the poll's current generation, then the results stored under it. A write
replaces the generation once its transaction has committed. A reader that computed results
before the commit stores them under the old generation, which nobody reads again: stale
results cannot outlive the write that made them stale, however the two interleave.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache


def _generation_key(poll_id: int) -> str:
    return f"poll:{poll_id}:generation"


def results_key(poll_id: int) -> str:
    generation = cache.get_or_set(_generation_key(poll_id), lambda: uuid.uuid4().hex, timeout=None)
    return f"poll:{poll_id}:results:{generation}"


def get_results(key: str):
    return cache.get(key)


def set_results(key: str, results: dict, *, seconds_left: float | None = None) -> None:
    """Store results; an open poll's entry never outlives its expiry (its is_open would lie)."""
    timeout = settings.POLL_RESULTS_CACHE_SECONDS
    if timeout <= 0:
        return  # caching switched off
    if seconds_left is not None:
        timeout = max(1, min(timeout, int(seconds_left)))
    cache.set(key, results, timeout=timeout)


def invalidate_results(poll_id: int) -> None:
    cache.set(_generation_key(poll_id), uuid.uuid4().hex, timeout=None)
