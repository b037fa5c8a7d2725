"""Reads. Each function names what it returns and takes keyword-only, typed arguments."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from pollsystem.polls import cache
from pollsystem.polls.models import Option, Poll


def poll_list(*, status: str | None = None, created_by_id: int | None = None) -> QuerySet[Poll]:
    """Polls newest first, with their creator and options loaded in two more queries at most."""
    polls = Poll.objects.select_related("created_by").prefetch_related(
        Prefetch("options", queryset=Option.objects.order_by("position", "id")))
    now = timezone.now()
    if status == "open":
        polls = polls.filter(closed_at__isnull=True, expires_at__gt=now)
    elif status == "closed":
        polls = polls.exclude(closed_at__isnull=True, expires_at__gt=now)
    if created_by_id is not None:
        polls = polls.filter(created_by_id=created_by_id)
    return polls


def poll_get(*, poll_id: int) -> Poll:
    return get_object_or_404(poll_list(), pk=poll_id)


def poll_results(*, poll_id: int) -> dict:
    """Per-option counts for one poll: two queries when computed, none when cached.

    Counts come from each option's counter, which the vote transaction increments with F();
    a test checks that the counters always equal the votes.
    """
    key = cache.results_key(poll_id)
    results = cache.get_results(key)
    if results is None:
        results, seconds_left = _compute_results(poll_id)
        cache.set_results(key, results, seconds_left=seconds_left)
    return results


def _compute_results(poll_id: int) -> tuple[dict, float | None]:
    poll = get_object_or_404(Poll.objects.only("id", "question", "expires_at", "closed_at"), pk=poll_id)
    options = list(Option.objects.filter(poll_id=poll_id).order_by("position", "id")
                   .values("id", "text", "vote_count"))
    now = timezone.now()
    is_open = poll.is_open(now)
    results = {
        "poll_id": poll.pk,
        "question": poll.question,
        "is_open": is_open,
        "total_votes": sum(o["vote_count"] for o in options),
        "options": [{"id": o["id"], "text": o["text"], "votes": o["vote_count"]} for o in options],
    }
    return results, (poll.expires_at - now).total_seconds() if is_open else None
