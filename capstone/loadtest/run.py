"""A bounded load run against real gunicorn processes on loopback.

    cd capstone && ../.venv/bin/python -m loadtest.run --json /tmp/loadtest.json

For each database (SQLite always; MariaDB when reachable, in a scratch database created and
dropped by the run) it:

1. starts two gunicorn servers on 127.0.0.1 with ``loadtest.settings``: one with the project's
   cache (local memory, or Redis with ``--redis-url``), one whose cache never hits
   (``LOADTEST_NO_CACHE``), while a subprocess migrates the database and creates one poll and
   one user per vote;
2. casts the votes concurrently, each by a distinct user with a JWT made in this process;
3. reads the results concurrently, from the cached server and from the uncached one;
4. stops the servers and checks, with plain SQL, that every option's counter equals its vote
   rows, that the counters add up to the 201 responses, that no response was a 5xx, and that
   every read after the votes reported the final total.

Each phase is bounded by a request count and by a time limit. It prints a table and, with
``--json``, writes the figures. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CAPSTONE = Path(__file__).resolve().parent.parent
DEFAULT_MARIADB = "mysql://root@127.0.0.1:3306/"
# Variables of the caller's environment that would change what the servers connect to.
CLEARED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
           "DJANGO_SETTINGS_MODULE", "SENTRY_DSN", "DJANGO_READ_DOT_ENV_FILE")


# -- figures ------------------------------------------------------------------------------------
@dataclass
class Phase:
    """One phase of requests: how many, how long, their statuses and latencies."""

    name: str
    requests: int = 0
    seconds: float = 0.0
    statuses: dict = field(default_factory=dict)
    mean_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    per_second: float = 0.0
    stopped_by_time: bool = False


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(rank) - 1]


def summarise(name: str, outcomes: list[tuple[int, float]], seconds: float, stopped: bool) -> Phase:
    latencies = sorted(ms for _, ms in outcomes)
    statuses: dict[str, int] = {}
    for status, _ in outcomes:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return Phase(name=name, requests=len(outcomes), seconds=round(seconds, 3), statuses=statuses,
                 mean_ms=round(sum(latencies) / len(latencies), 2) if latencies else 0.0,
                 p50_ms=round(percentile(latencies, 50), 2), p99_ms=round(percentile(latencies, 99), 2),
                 max_ms=round(latencies[-1], 2) if latencies else 0.0,
                 per_second=round(len(outcomes) / seconds, 1) if seconds else 0.0, stopped_by_time=stopped)


# -- the load generator ---------------------------------------------------------------------------
def hammer(base_url: str, requests: list[dict], *, concurrency: int, max_seconds: float,
           name: str, keep_bodies: bool = False) -> tuple[Phase, list]:
    """Send ``requests`` (dicts of httpx.Client.request arguments) from ``concurrency`` threads,
    each with its own keep-alive connection. Stops early after ``max_seconds``.
    Returns the phase's figures and, with ``keep_bodies``, the JSON bodies of 200 responses."""
    import httpx

    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in requests:
        work.put(item)
    outcomes: list[tuple[int, float]] = []
    bodies: list = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + max_seconds
    stopped = threading.Event()

    def worker():
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            while True:
                if time.perf_counter() > deadline:
                    stopped.set()
                    return
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    return
                sent = time.perf_counter()
                try:
                    response = client.request(**item)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 599  # no response at all counts as a server-side failure
                    response = None
                took = (time.perf_counter() - sent) * 1000
                with lock:
                    outcomes.append((status, took))
                    if keep_bodies and status == 200:
                        bodies.append(response.json())

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarise(name, outcomes, time.perf_counter() - start, stopped.is_set()), bodies


def access_token(*, user_id: int, secret: str, minutes: int = 15) -> str:
    """An access token as djangorestframework-simplejwt issues it (HS256, token_type, jti)."""
    import jwt

    now = int(time.time())
    claims = {"token_type": "access", "exp": now + minutes * 60, "iat": now,
              "jti": uuid.uuid4().hex, "user_id": str(user_id)}
    return jwt.encode(claims, secret, algorithm="HS256")


# -- processes -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(*, database_url: str, secret: str, redis_url: str | None = None, no_cache: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update({"DJANGO_SETTINGS_MODULE": "loadtest.settings", "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": secret, "PYTHONPATH": str(CAPSTONE), "LOADTEST_NO_CACHE": str(no_cache)})
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["CACHE_KEY_PREFIX"] = f"loadtest-{uuid.uuid4().hex[:8]}"
    return env


class Servers:
    """Gunicorn processes started in their own process groups and always stopped."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, env: dict, *, workers: int, threads: int) -> tuple[str, subprocess.Popen]:
        port = free_port()
        args = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
                "--keep-alive", "5", "--graceful-timeout", "3", "--timeout", "60",
                "--no-control-socket"]  # gunicorn 25+ would create a socket file in the working directory
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            proc = subprocess.Popen(args, cwd=CAPSTONE, env=env, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                    start_new_session=True)
        self.procs.append(proc)
        return f"http://127.0.0.1:{port}", proc

    def wait_ready(self, base_url: str, proc: subprocess.Popen, name: str, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn ({name}) exited with {proc.returncode}:\n{self.tail(name)}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"gunicorn ({name}) not ready after {timeout:g} s:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def prepare(env: dict, *, voters: int, options: int) -> dict:
    """Migrate and create the poll and its voters, in a subprocess with the servers' settings."""
    args = [sys.executable, "-m", "loadtest.run", "_prepare", "--voters", str(voters), "--options", str(options)]
    done = subprocess.run(args, cwd=CAPSTONE, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"preparing the database failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare_in_this_process(voters: int, options: int) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from pollsystem.polls import services
    from pollsystem.users.models import User

    call_command("migrate", verbosity=0)
    users = [User(username=f"voter{i:06d}") for i in range(voters + 1)]
    for user in users:
        user.set_unusable_password()  # they never log in: the run signs their tokens itself
    User.objects.bulk_create(users, batch_size=500)
    users = list(User.objects.order_by("id").values_list("id", flat=True))
    creator = User.objects.get(pk=users[0])
    poll = services.poll_create(created_by=creator, question="Which database do you run in production?",
                                options=[f"Option {i + 1}" for i in range(options)],
                                expires_at=timezone.now() + timedelta(hours=2))
    option_ids = list(poll.options.order_by("position").values_list("id", flat=True))
    print(json.dumps({"poll_id": poll.pk, "option_ids": option_ids, "voter_ids": users[1:]}))


def counts_by_sql(database_url: str, poll_id: int) -> dict:
    """Counters and vote rows per option, read with plain SQL (no Django in this process)."""
    counters_sql = "SELECT id, vote_count FROM polls_option WHERE poll_id = %s ORDER BY id"
    votes_sql = "SELECT option_id, COUNT(*) FROM polls_vote WHERE poll_id = %s GROUP BY option_id"
    if database_url.startswith("sqlite:"):
        import sqlite3

        conn = sqlite3.connect(urlsplit(database_url).path)
        try:
            counters = dict(conn.execute(counters_sql.replace("%s", "?"), (poll_id,)).fetchall())
            rows = dict(conn.execute(votes_sql.replace("%s", "?"), (poll_id,)).fetchall())
        finally:
            conn.close()
    else:
        conn = _mysql_connect(database_url)
        try:
            with conn.cursor() as cursor:
                cursor.execute(counters_sql, (poll_id,))
                counters = dict(cursor.fetchall())
                cursor.execute(votes_sql, (poll_id,))
                rows = dict(cursor.fetchall())
        finally:
            conn.close()
    return {"counters": {int(k): int(v) for k, v in counters.items()},
            "vote_rows": {int(k): int(rows.get(k, 0)) for k in counters}}


def _mysql_connect(url: str, *, database: bool = True):
    import pymysql

    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "",
                           database=(parts.path.lstrip("/") or None) if database else None,
                           connect_timeout=3, autocommit=True)


class ScratchMariaDB:
    """A database created for one run and dropped after it."""

    def __init__(self, server_url: str):
        parts = urlsplit(server_url)
        self.name = f"capstone_load_{uuid.uuid4().hex[:8]}"
        self.server_url = f"{parts.scheme}://{parts.netloc}/"
        self.url = f"{parts.scheme}://{parts.netloc}/{self.name}"

    def __enter__(self):
        conn = _mysql_connect(self.server_url, database=False)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return self

    def __exit__(self, *exc):
        conn = _mysql_connect(self.server_url, database=False)
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        finally:
            conn.close()


def mariadb_unreachable(server_url: str) -> str | None:
    """None when MariaDB answers at ``server_url``, else the reason."""
    try:
        _mysql_connect(server_url, database=False).close()
    except Exception as exc:  # any failure means: skip, and say why
        return f"{type(exc).__name__}: {exc}"
    return None


# -- one run -----------------------------------------------------------------------------------------
def run(database_url: str, *, label: str, votes: int = 400, reads: int = 1000, options: int = 4,
        concurrency: int = 8, read_concurrency: int | None = None, workers: int = 1, threads: int = 8,
        max_seconds: float = 30.0, redis_url: str | None = None, log_dir: Path | None = None) -> dict:
    """One bounded run against ``database_url`` (a Django-style URL). Returns its figures and
    checks; the servers are stopped and the temporary files removed before it returns.
    ``read_concurrency`` (default: ``concurrency``) sets the client threads of the read phases."""
    read_concurrency = read_concurrency or concurrency
    if workers > 1 and not redis_url:
        raise ValueError("with several workers the local-memory cache is per process and results "
                         "would be stale in the others: pass --redis-url, or use one worker")
    secret = secrets.token_urlsafe(48)
    own_dir = log_dir is None
    log_dir = Path(tempfile.mkdtemp(prefix="capstone-loadtest-")) if own_dir else Path(log_dir)
    servers = Servers(log_dir)
    started = time.perf_counter()
    try:
        cached_url, cached_proc = servers.start(
            f"{label}-cached", server_env(database_url=database_url, secret=secret, redis_url=redis_url),
            workers=workers, threads=threads)
        uncached_url, uncached_proc = servers.start(
            f"{label}-uncached", server_env(database_url=database_url, secret=secret, no_cache=True),
            workers=workers, threads=threads)
        # The servers import Django while the database is prepared: nothing queries it before.
        setup = prepare(server_env(database_url=database_url, secret=secret), voters=votes, options=options)
        servers.wait_ready(cached_url, cached_proc, f"{label}-cached")
        servers.wait_ready(uncached_url, uncached_proc, f"{label}-uncached")
        startup_seconds = time.perf_counter() - started

        poll_id, option_ids = setup["poll_id"], setup["option_ids"]
        ballots = [{"method": "POST", "url": f"/api/v1/polls/{poll_id}/vote/",
                    "json": {"option_id": option_ids[i % len(option_ids)]},
                    "headers": {"Authorization": f"Bearer {access_token(user_id=uid, secret=secret)}"}}
                   for i, uid in enumerate(setup["voter_ids"])]
        vote_phase, _ = hammer(cached_url, ballots, concurrency=concurrency, max_seconds=max_seconds,
                               name="votes")
        read = {"method": "GET", "url": f"/api/v1/polls/{poll_id}/results/"}
        cached_phase, cached_bodies = hammer(cached_url, [read] * reads, concurrency=read_concurrency,
                                             max_seconds=max_seconds, name="results, cached", keep_bodies=True)
        uncached_phase, uncached_bodies = hammer(uncached_url, [read] * reads, concurrency=read_concurrency,
                                                 max_seconds=max_seconds, name="results, uncached",
                                                 keep_bodies=True)
    finally:
        servers.stop()
        if own_dir:
            shutil.rmtree(log_dir, ignore_errors=True)

    counts = counts_by_sql(database_url, poll_id)
    accepted = vote_phase.statuses.get("201", 0)
    phases = [vote_phase, cached_phase, uncached_phase]
    totals_seen = {body["total_votes"] for body in cached_bodies + uncached_bodies}
    checks = {
        "counters_equal_vote_rows": counts["counters"] == counts["vote_rows"],
        "counters_equal_accepted_votes": sum(counts["counters"].values()) == accepted,
        "every_vote_accepted": accepted == vote_phase.requests == votes,
        "no_5xx": all(not status.startswith("5") for phase in phases for status in phase.statuses),
        "every_read_saw_the_final_total": totals_seen == {accepted},
    }
    return {"database": label, "workers": workers, "threads": threads, "concurrency": concurrency,
            "read_concurrency": read_concurrency,
            "startup_seconds": round(startup_seconds, 2), "phases": [asdict(p) for p in phases],
            "counts": {str(k): v for k, v in counts["counters"].items()}, "checks": checks,
            "ok": all(checks.values())}


def table(results: list[dict]) -> str:
    head = f"{'database':<9}{'phase':<19}{'requests':>9}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses"
    lines = [head, "-" * len(head)]
    for result in results:
        for phase in result["phases"]:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(phase["statuses"].items()))
            lines.append(f"{result['database']:<9}{phase['name']:<19}{phase['requests']:>9}"
                         f"{phase['per_second']:>9.0f}{phase['p50_ms']:>9.1f}{phase['p99_ms']:>9.1f}  {statuses}")
        failed = [name for name, ok in result["checks"].items() if not ok]
        lines.append(f"{'':<9}checks: {'all pass' if not failed else 'FAILED ' + ', '.join(failed)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=400, help="votes, each by a distinct user (default 400)")
    parser.add_argument("--reads", type=int, default=1000, help="results reads per phase (default 1000)")
    parser.add_argument("--options", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (default 1)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time limit per phase")
    parser.add_argument("--mariadb", default=os.environ.get("LOADTEST_MARIADB_URL", DEFAULT_MARIADB),
                        help="MariaDB server URL; a scratch database is created and dropped ('' to skip)")
    parser.add_argument("--redis-url", default=None, help="use Redis as the cache (needed for --workers > 1)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    sub = parser.add_subparsers(dest="command")
    prep = sub.add_parser("_prepare", help=argparse.SUPPRESS)
    prep.add_argument("--voters", type=int, required=True)
    prep.add_argument("--options", type=int, required=True)
    args = parser.parse_args(argv)

    if args.command == "_prepare":
        _prepare_in_this_process(args.voters, args.options)
        return 0

    common = dict(votes=args.votes, reads=args.reads, options=args.options, concurrency=args.concurrency,
                  workers=args.workers, threads=args.threads, max_seconds=args.max_seconds,
                  redis_url=args.redis_url)
    results, skipped = [], {}
    with tempfile.TemporaryDirectory(prefix="capstone-loadtest-") as tmp:
        results.append(run(f"sqlite:///{tmp}/load.sqlite3", label="sqlite", **common))
    if args.mariadb:
        reason = mariadb_unreachable(args.mariadb)
        if reason:
            skipped["mariadb"] = f"MariaDB not reachable at {args.mariadb}: {reason}"
            print(f"skipping MariaDB: {skipped['mariadb']} (set --mariadb or LOADTEST_MARIADB_URL)")
        else:
            with ScratchMariaDB(args.mariadb) as scratch:
                results.append(run(scratch.url, label="mariadb", **common))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "skipped": skipped}, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
