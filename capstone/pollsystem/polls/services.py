"""Writes. Every rule about polls and votes lives here; REST, GraphQL and Celery call these."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from pollsystem.core.exceptions import Conflict
from pollsystem.polls import cache
from pollsystem.polls.models import Option, Poll, ResultSnapshot, Vote

logger = logging.getLogger(__name__)

MIN_OPTIONS = 2
MIN_DURATION = timedelta(minutes=1)


def _clean_option_texts(texts: list[str]) -> list[str]:
    cleaned = [t.strip() for t in texts]
    if any(not t for t in cleaned):
        raise ValidationError({"options": "An option cannot be empty."})
    if len({t.casefold() for t in cleaned}) != len(cleaned):
        raise ValidationError({"options": "Options must be different from each other."})
    if not MIN_OPTIONS <= len(cleaned) <= settings.POLL_MAX_OPTIONS:
        raise ValidationError({"options": f"A poll has {MIN_OPTIONS} to {settings.POLL_MAX_OPTIONS} options."})
    return cleaned


def _check_expiry(expires_at: datetime, *, now: datetime) -> None:
    if expires_at < now + MIN_DURATION:
        raise ValidationError({"expires_at": "A poll must stay open for at least a minute."})


@transaction.atomic
def poll_create(*, created_by, question: str, options: list[str], expires_at: datetime) -> Poll:
    now = timezone.now()
    _check_expiry(expires_at, now=now)
    poll = Poll(question=question.strip(), created_by=created_by, created_at=now, expires_at=expires_at)
    poll.full_clean()
    poll.save()
    _insert_options([Option(poll=poll, text=text, position=i) for i, text in enumerate(_clean_option_texts(options))])
    logger.info("poll created", extra={"poll_id": poll.pk, "user_id": created_by.pk})
    return poll


def _insert_options(options: list[Option]) -> None:
    try:
        with transaction.atomic():
            Option.objects.bulk_create(options)
    except IntegrityError:  # the database's own check: some collations compare invisible text equal to ''
        raise ValidationError({"options": "An option cannot be empty."}) from None


def _lock_for_edit(*, poll_id: int, user) -> Poll:
    poll = Poll.objects.select_for_update().filter(pk=poll_id).first()
    if poll is None:
        raise Http404("No such poll.")
    if poll.created_by_id != user.pk:
        raise PermissionDenied("Only the poll's creator can change it.")
    return poll


@transaction.atomic
def poll_update(*, poll_id: int, user, question: str | None = None, expires_at: datetime | None = None,
                options: list[dict] | None = None) -> Poll:
    """Edit a poll without losing votes.

    ``options`` is the full new list, in order: ``{"id": ..., "text": ...}`` keeps (and may
    rename) an existing option with its votes, ``{"text": ...}`` adds one, and an existing
    option left out is removed, which is refused while it has votes.
    """
    poll = _lock_for_edit(poll_id=poll_id, user=user)
    if not poll.is_open():
        raise Conflict("A closed poll cannot be edited.", code="poll_closed")
    if question is not None:
        poll.question = question.strip()
    if expires_at is not None:
        _check_expiry(expires_at, now=timezone.now())
        poll.expires_at = expires_at
    poll.full_clean()
    poll.save()
    if options is not None:
        _replace_options(poll, options)
    transaction.on_commit(lambda: cache.invalidate_results(poll.pk))
    return poll


def _replace_options(poll: Poll, options: list[dict]) -> None:
    texts = _clean_option_texts([o["text"] for o in options])
    existing = {o.pk: o for o in Option.objects.select_for_update().filter(poll=poll)}
    kept_ids = [o["id"] for o in options if o.get("id") is not None]
    unknown = set(kept_ids) - set(existing)
    if unknown:
        raise ValidationError({"options": f"Option ids {sorted(unknown)} are not options of this poll."})
    removed = [o for pk, o in existing.items() if pk not in kept_ids]
    with_votes = [o.pk for o in removed if o.vote_count or Vote.objects.filter(option=o).exists()]
    if with_votes:
        raise Conflict("Options that have votes cannot be removed.", code="option_has_votes",
                       details={"option_ids": with_votes})
    Option.objects.filter(pk__in=[o.pk for o in removed]).delete()
    for position, (spec, text) in enumerate(zip(options, texts, strict=True)):
        if spec.get("id") is None:
            _insert_options([Option(poll=poll, text=text, position=position)])
        else:
            Option.objects.filter(pk=spec["id"]).update(text=text, position=position)  # votes untouched


@transaction.atomic
def poll_close(*, poll_id: int, user) -> Poll:
    """Close a poll now. Closing a closed poll changes nothing."""
    poll = _lock_for_edit(poll_id=poll_id, user=user)
    if poll.closed_at is None:
        poll.closed_at = min(timezone.now(), poll.expires_at)
        poll.save(update_fields=["closed_at"])
        transaction.on_commit(lambda: _after_close(poll.pk))
    return poll


def _after_close(poll_id: int) -> None:
    from pollsystem.polls.tasks import snapshot_results

    cache.invalidate_results(poll_id)
    snapshot_results.delay(poll_id)


def vote_cast(*, poll_id: int, option_id: int, user, attempts: int = 3) -> Vote:
    """Record ``user``'s vote. One vote per user per poll, enforced by the database.

    A second vote, even one racing the first from another request, hits the unique constraint
    inside a savepoint and becomes a 409. The option's counter moves with an F() expression in
    the same savepoint, so concurrent votes never lose an update. A deadlock the database reports
    anyway (InnoDB picks a victim) is retried a few times.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _vote_cast_once(poll_id=poll_id, option_id=option_id, user=user)
        except OperationalError as exc:
            if attempt == attempts or not _is_deadlock(exc):
                raise
            logger.warning("vote deadlock, retrying", extra={"poll_id": poll_id, "user_id": user.pk})
    raise AssertionError("unreachable")


def _is_deadlock(exc: OperationalError) -> bool:
    code = exc.args[0] if exc.args else None
    return code in (1213, 1205) or "deadlock" in str(exc).lower()


@transaction.atomic
def _vote_cast_once(*, poll_id: int, option_id: int, user) -> Vote:
    poll = Poll.objects.only("id", "expires_at", "closed_at").filter(pk=poll_id).first()
    if poll is None:
        raise Http404("No such poll.")
    now = timezone.now()
    if not poll.is_open(now):
        raise Conflict("This poll is closed.", code="poll_closed")
    if not Option.objects.filter(pk=option_id, poll_id=poll_id).exists():
        raise ValidationError({"option_id": "This option does not belong to the poll."})
    try:
        with transaction.atomic():  # a savepoint: the IntegrityError leaves the outer transaction usable
            # Counter first: its row lock queues the votes for this option. Inserting first would
            # have each vote take a shared lock on the option row (the foreign key check) and
            # then all of them wait to upgrade it: a deadlock on InnoDB. A refused vote rolls
            # the savepoint back, counter included.
            Option.objects.filter(pk=option_id).update(vote_count=F("vote_count") + 1)
            vote = Vote.objects.create(poll_id=poll_id, option_id=option_id, user=user, created_at=now)
    except IntegrityError:
        raise Conflict("You have already voted in this poll.", code="already_voted") from None
    transaction.on_commit(lambda: cache.invalidate_results(poll_id))
    logger.info("vote cast", extra={"poll_id": poll_id, "user_id": user.pk})
    return vote


def polls_close_expired(*, now: datetime | None = None) -> int:
    """Mark every open poll past its expiry as closed; safe to run any number of times.

    Correctness never waits for this: voting and results check the expiry themselves.
    """
    now = now or timezone.now()
    expired = list(Poll.objects.filter(closed_at__isnull=True, expires_at__lte=now).values_list("id", flat=True))
    if not expired:
        return 0
    with transaction.atomic():
        closed = Poll.objects.filter(pk__in=expired, closed_at__isnull=True).update(closed_at=F("expires_at"))
        transaction.on_commit(lambda: [_after_close(pk) for pk in expired])
    return closed


@transaction.atomic
def results_snapshot(*, poll_id: int, now: datetime | None = None) -> ResultSnapshot:
    """Freeze the poll's current counts. Run again with nothing changed, it adds nothing."""
    Poll.objects.select_for_update().filter(pk=poll_id).first()  # one snapshot writer per poll
    counts = {str(k): v for k, v in Option.objects.filter(poll_id=poll_id).values_list("id", "vote_count")}
    latest = ResultSnapshot.objects.filter(poll_id=poll_id).first()
    if latest is not None and latest.counts == counts:
        return latest
    return ResultSnapshot.objects.create(poll_id=poll_id, taken_at=now or timezone.now(),
                                         total_votes=sum(counts.values()), counts=counts)
