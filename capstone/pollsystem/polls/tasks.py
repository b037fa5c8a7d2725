"""Celery tasks: thin wrappers over services, safe to run twice."""

from celery import shared_task

from pollsystem.polls import services


@shared_task(name="polls.close_expired")
def close_expired_polls() -> int:
    return services.polls_close_expired()


@shared_task(name="polls.snapshot_results")
def snapshot_results(poll_id: int) -> int:
    return services.results_snapshot(poll_id=poll_id).pk
