"""Concurrency, with real threads and real connections (MariaDB and PostgreSQL in CI's service pass)."""

import threading

import pytest
from django.db import connections

from pollsystem.core.exceptions import Conflict
from pollsystem.polls import services
from pollsystem.polls.models import Option, Vote
from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory

THREADS = 12


def run_together(jobs):
    """Start every job at the same instant (a barrier), each on its own connection."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            job()
            outcomes[i] = "ok"
        except Conflict as exc:
            outcomes[i] = exc.code
        except Exception as exc:  # reported, so the assertion shows what went wrong
            outcomes[i] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_votes_by_one_user_leave_exactly_one():
    poll, user = PollFactory(), UserFactory()
    options = list(poll.options.all())
    outcomes = run_together([
        (lambda o=o: services.vote_cast(poll_id=poll.pk, option_id=o.pk, user=user))
        for o in (options * THREADS)[:THREADS]])
    assert sorted(outcomes) == sorted(["ok"] + ["already_voted"] * (THREADS - 1)), outcomes
    assert Vote.objects.filter(poll=poll, user=user).count() == 1
    assert sum(Option.objects.filter(poll=poll).values_list("vote_count", flat=True)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_votes_by_many_users_lose_no_update():
    poll = PollFactory()
    option = poll.options.first()
    users = [UserFactory() for _ in range(THREADS)]
    outcomes = run_together([
        (lambda u=u: services.vote_cast(poll_id=poll.pk, option_id=option.pk, user=u)) for u in users])
    assert outcomes == ["ok"] * THREADS, outcomes
    option.refresh_from_db()
    assert option.vote_count == Vote.objects.filter(option=option).count() == THREADS
