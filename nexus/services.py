"""Which backing services a notebook talks to, and whether they answer.

Every chapter runs with nothing installed: SQLite, fakeredis and Celery's filesystem
transport stand in for the real servers. Setting one of the ``NEXUS_*`` variables below
switches that service to a real server. A variable that is set but points at a server
that does not answer is an error, raised within ``CHECK_SECONDS``; it never falls back.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

VARIABLES = {
    "database": "NEXUS_DATABASE_URL",
    "redis": "NEXUS_REDIS_URL",
    "broker": "NEXUS_BROKER_URL",
    "result_backend": "NEXUS_RESULT_BACKEND",
}

EMBEDDED = {
    "database": "SQLite file in the workspace's temp dir",
    "redis": "fakeredis (one shared in-process FakeServer)",
    "broker": "kombu filesystem:// transport in the workspace's temp dir",
    "result_backend": "db+sqlite:/// file in the workspace's temp dir",
}

EXAMPLES = {
    "database": "mysql+pymysql://root@127.0.0.1:3306/test",
    "redis": "redis://127.0.0.1:6379/0",
    "broker": "amqp://guest:guest@127.0.0.1:5672//",
    "result_backend": "redis://127.0.0.1:6379/1",
}

# A check must finish, pass or fail, well inside five seconds.
CHECK_SECONDS = 4.0
_CONNECT_SECONDS = 3


class ServiceUnavailable(RuntimeError):
    """A NEXUS_* variable names a service that cannot be used."""


def configured(service: str) -> str | None:
    """The URL set for ``service``, or None when it runs embedded (unset or empty)."""
    value = os.environ.get(VARIABLES[service], "").strip()
    return value or None


def mode(service: str) -> str:
    return "real" if configured(service) else "embedded"


def mask(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass
class Probe:
    """The result of checking one service."""

    service: str
    variable: str
    mode: str
    target: str
    reachable: bool
    version: str = ""
    latency_ms: float | None = None
    error: str = ""


def _split(url: str, schemes: tuple[str, ...], variable: str):
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ServiceUnavailable(f"{variable}={mask(url)} cannot be parsed: {exc}.") from exc
    scheme = parts.scheme.split("+")[0]
    if scheme not in schemes or not parts.hostname:
        raise ServiceUnavailable(
            f"{variable}={mask(url)} is not a URL this project can use; "
            f"expected a {' or '.join(schemes)} URL such as {EXAMPLES[_service_of(variable)]}."
        )
    return parts, port


def _service_of(variable: str) -> str:
    return next(s for s, v in VARIABLES.items() if v == variable)


def _probe_mysql(url: str, variable: str) -> str:
    import pymysql

    parts, port = _split(url.removeprefix("db+"), ("mysql", "mariadb"), variable)
    conn = pymysql.connect(
        host=parts.hostname,
        port=port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        connect_timeout=_CONNECT_SECONDS,
        read_timeout=_CONNECT_SECONDS,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            return f"MySQL/MariaDB {cur.fetchone()[0]}"
    finally:
        conn.close()


def _probe_redis(url: str, variable: str) -> str:
    import redis

    _split(url, ("redis", "rediss"), variable)
    client = redis.Redis.from_url(
        url, socket_connect_timeout=_CONNECT_SECONDS, socket_timeout=_CONNECT_SECONDS
    )
    try:
        client.ping()
        return f"Redis {client.info('server')['redis_version']}"
    finally:
        client.close()


def _probe_amqp(url: str, variable: str) -> str:
    from kombu import Connection

    _split(url, ("amqp", "amqps", "pyamqp"), variable)
    with Connection(
        url,
        connect_timeout=_CONNECT_SECONDS,
        transport_options={"max_retries": 0},
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=_CONNECT_SECONDS)
        props = getattr(conn.connection, "server_properties", {}) or {}
        product = props.get("product", "AMQP server")
        return f"{product} {props.get('version', '')}".strip()


def _probe_real(service: str, url: str) -> str:
    variable = VARIABLES[service]
    if service == "database":
        return _probe_mysql(url, variable)
    if service == "redis":
        return _probe_redis(url, variable)
    if service == "broker":
        return _probe_amqp(url, variable)
    if url.startswith("db+"):
        return _probe_mysql(url, variable)
    return _probe_redis(url, variable)


def _probe_embedded(service: str) -> str:
    if service in ("database", "result_backend"):
        return f"SQLite {sqlite3.sqlite_version}"
    if service == "redis":
        import fakeredis

        from nexus.workspace import fake_redis_server

        fakeredis.FakeRedis(server=fake_redis_server()).ping()
        return f"fakeredis {_version('fakeredis')}"
    return f"kombu {_version('kombu')} filesystem transport"


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _with_deadline(fn, seconds: float):
    """Run ``fn`` in a daemon thread; give up after ``seconds`` whatever the driver does."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _import_driver(service: str, url: str | None) -> None:
    try:
        if not url:
            __import__("fakeredis" if service == "redis" else "kombu")
        elif service == "broker":
            __import__("kombu")
        elif service == "database" or url.startswith("db+"):
            __import__("pymysql")
        else:
            __import__("redis")
    except ImportError:
        pass  # the probe itself reports it


def probe(service: str) -> Probe:
    """Check one service. Never raises: the outcome is in the returned Probe."""
    variable = VARIABLES[service]
    url = configured(service)
    target = mask(url) if url else EMBEDDED[service]
    _import_driver(service, url)  # so the latency below is the round trip, not an import
    started = time.perf_counter()
    try:
        if url:
            version = _with_deadline(lambda: _probe_real(service, url), CHECK_SECONDS)
        else:
            version = _probe_embedded(service)
    except Exception as exc:  # every failure becomes a readable Probe
        detail = str(exc) if isinstance(exc, ServiceUnavailable) else f"{type(exc).__name__}: {exc}"
        return Probe(service, variable, mode(service), target, False, error=detail)
    latency = (time.perf_counter() - started) * 1000
    return Probe(service, variable, mode(service), target, True, version, latency)


def explain(result: Probe) -> str:
    """The actionable message for a configured service that failed its check."""
    if result.error.startswith(result.variable):
        problem = result.error  # already names the variable (a malformed URL)
    else:
        problem = (
            f"{result.variable} is set to {result.target}, but that {result.service.replace('_', ' ')} "
            f"cannot be used ({result.error})."
        )
    return (
        f"{problem}\nFix: start the server (see 'How to use' → 'Real services'), correct the URL "
        f"(example: {EXAMPLES[result.service]}), or unset {result.variable} to run on the "
        f"embedded default ({EMBEDDED[result.service]})."
    )


def require(service: str) -> Probe:
    """Probe ``service`` and raise ServiceUnavailable if it is configured but unusable."""
    result = probe(service)
    if not result.reachable:
        raise ServiceUnavailable(explain(result))
    return result


def require_configured() -> list[Probe]:
    """Check every service whose variable is set. Embedded services need no check."""
    return [require(service) for service in VARIABLES if configured(service)]


def doctor(stream=None) -> int:
    """Print every service's mode, reachability, version and latency. Returns an exit code."""
    import sys

    stream = stream or sys.stdout
    results = [probe(service) for service in VARIABLES]
    header = f"{'service':<15} {'mode':<9} {'status':<12} {'version':<32} {'latency':>9}  target"
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for r in results:
        status = "ok" if r.reachable else "UNREACHABLE"
        latency = f"{r.latency_ms:7.1f} ms" if r.latency_ms is not None else "        -"
        print(
            f"{r.service:<15} {r.mode:<9} {status:<12} {r.version[:32]:<32} {latency:>9}  {r.target}",
            file=stream,
        )
    failed = [r for r in results if not r.reachable]
    for r in failed:
        print("\n" + explain(r), file=stream)
    if not failed:
        print("\nAll services ready.", file=stream)
    return 1 if failed else 0
