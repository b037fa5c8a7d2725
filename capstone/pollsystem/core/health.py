"""Liveness (the process answers) and readiness (its dependencies answer)."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import JsonResponse


# Not wrapped in ATOMIC_REQUESTS: opening a transaction needs the database, and liveness must not.
@transaction.non_atomic_requests
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "readyz:probe"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    if not settings.CELERY_BROKER_URL:
        return  # eager mode: no broker to reach
    from config.celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


@transaction.non_atomic_requests
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:  # any failure makes the pod unready; the reason is reported
            ready = False
            results[name] = {"status": "error", "error": type(exc).__name__}
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results},
                        status=200 if ready else 503)
