"""Which backing services a notebook talks to, and whether they answer.

Every chapter runs with nothing installed: SQLite, fakeredis, Celery's filesystem
transport and pymemcache's mock client stand in for the real servers, no image is built
and packet captures come from a file. Setting one of the ``NEXUS_*`` variables below
switches that service to the real thing. A variable that is set but names something that
does not answer is an error, raised within ``CHECK_SECONDS``; it never falls back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

VARIABLES = {
    "database": "NEXUS_DATABASE_URL",
    "redis": "NEXUS_REDIS_URL",
    "broker": "NEXUS_BROKER_URL",
    "result_backend": "NEXUS_RESULT_BACKEND",
    "memcached": "NEXUS_MEMCACHED_URL",
    "container_builder": "NEXUS_CONTAINER_BUILDER",
    "base_image": "NEXUS_BASE_IMAGE",
    "capture": "NEXUS_CAPTURE",
}

EMBEDDED = {
    "database": "SQLite file in the workspace's temp dir",
    "redis": "fakeredis (one shared in-process FakeServer)",
    "broker": "kombu filesystem:// transport in the workspace's temp dir",
    "result_backend": "db+sqlite:/// file in the workspace's temp dir",
    "memcached": "pymemcache MockMemcacheClient (in-process)",
    "container_builder": "no builder: contexts computed with the Docker SDK, Dockerfiles linted",
    "base_image": "python:3.11-slim (named in Dockerfiles; nothing is pulled)",
    "capture": "the real capture committed in data/",
}

DEFAULT_BASE_IMAGE = "python:3.11-slim"
BUILDERS = ("docker", "podman", "buildah")

EXAMPLES = {
    "database": "mysql+pymysql://root@127.0.0.1:3306/test",
    "redis": "redis://127.0.0.1:6379/0",
    "broker": "amqp://guest:guest@127.0.0.1:5672//",
    "result_backend": "redis://127.0.0.1:6379/1",
    "memcached": "memcache://127.0.0.1:11211",
    "container_builder": "buildah",
    "base_image": "localhost/nexus-python:3.11",
    "capture": "live",
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


def memcached_address(url: str) -> tuple[str, int]:
    """``memcache://host:port`` or a bare ``host:port`` as a (host, port) pair."""
    variable = VARIABLES["memcached"]
    text = url if "://" in url else f"memcache://{url}"
    parts, port = _split(text, ("memcache", "memcached"), variable)
    return parts.hostname, port or 11211


def _probe_memcached(url: str) -> str:
    from pymemcache.client.base import Client

    client = Client(memcached_address(url), connect_timeout=_CONNECT_SECONDS, timeout=_CONNECT_SECONDS)
    try:
        return f"memcached {client.version().decode()}"
    finally:
        client.close()


def _run_quietly(args: list[str], timeout: float = _CONNECT_SECONDS) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {result.returncode}")
    return result.stdout.strip()


def _probe_builder(value: str) -> str:
    variable = VARIABLES["container_builder"]
    if value not in BUILDERS:
        raise ServiceUnavailable(
            f"{variable}={value!r} is not a builder this project drives; use one of {', '.join(BUILDERS)} "
            f"(example: {EXAMPLES['container_builder']}), or unset it to compute contexts without building."
        )
    if shutil.which(value) is None:
        raise ServiceUnavailable(
            f"{variable}={value} but no `{value}` program is on PATH. Fix: install it (Debian: "
            f"apt-get install {value}), or unset {variable} to compute contexts without building."
        )
    if value == "docker":
        return "docker " + _run_quietly(["docker", "version", "--format", "{{.Server.Version}}"])
    return _run_quietly([value, "--version"])


def _probe_base_image(image: str) -> str:
    builder = configured("container_builder")
    if builder is None:
        return f"{image} (named only: no builder configured)"
    check = {"buildah": ["buildah", "--storage-driver", "vfs", "inspect", "--type", "image",
                         "--format", "{{.FromImageID}}", image],
             "podman": ["podman", "image", "inspect", "--format", "{{.Id}}", image],
             "docker": ["docker", "image", "inspect", "--format", "{{.Id}}", image]}[builder]
    try:
        image_id = _run_quietly(check, timeout=30)  # waits while another build holds the storage lock
    except Exception as exc:
        raise ServiceUnavailable(
            f"NEXUS_BASE_IMAGE={image} is not an image {builder} has locally ({exc}). Fix: build it "
            "(`bash .ci/base-image` makes localhost/nexus-python:3.11 from a Debian rootfs), or "
            f"unset NEXUS_BASE_IMAGE to use {DEFAULT_BASE_IMAGE}."
        ) from exc
    return f"{image} {image_id[:12]}"


def capture_tools() -> list[str]:
    """The packet-capture programs on PATH."""
    return [tool for tool in ("tcpdump", "tshark") if shutil.which(tool)]


def can_capture() -> tuple[bool, str]:
    """Whether a live loopback capture is possible here, and why (root/CAP_NET_RAW and a tool)."""
    tools = capture_tools()
    privileged = os.geteuid() == 0 or _has_cap_net_raw()
    if not tools:
        return False, "neither tcpdump nor tshark is installed (Debian: apt-get install tcpdump tshark)"
    if not privileged:
        return False, "capturing needs root or CAP_NET_RAW, and this process has neither"
    who = "root" if os.geteuid() == 0 else "CAP_NET_RAW"
    return True, f"{who}, {' and '.join(tools)}"


def _has_cap_net_raw() -> bool:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 13))
    except OSError:
        pass
    return False


def _probe_capture(value: str) -> str:
    variable = VARIABLES["capture"]
    if value != "live":
        raise ServiceUnavailable(f"{variable}={value!r}: the only value is 'live'; unset it to analyse "
                                 "the committed capture.")
    ok, why = can_capture()
    if not ok:
        raise ServiceUnavailable(f"{variable}=live, but live capture is not possible here: {why}. "
                                 f"Fix: run as root with tcpdump installed, or unset {variable}.")
    return f"live capture ({why})"


def _probe_real(service: str, url: str) -> str:
    variable = VARIABLES[service]
    if service == "memcached":
        return _probe_memcached(url)
    if service == "container_builder":
        return _probe_builder(url)
    if service == "base_image":
        return _probe_base_image(url)
    if service == "capture":
        return _probe_capture(url)
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

        fakeredis.FakeRedis(server=fake_redis_server()).ping()
        return f"fakeredis {_version('fakeredis')}"
    if service == "memcached":
        return f"pymemcache {_version('pymemcache')} mock client"
    if service == "container_builder":
        return f"Docker SDK {_version('docker')} context code"
    if service == "base_image":
        return DEFAULT_BASE_IMAGE
    if service == "capture":
        ok, why = can_capture()
        return f"committed capture (live {'possible' if ok else 'not possible'}: {why})"
    return f"kombu {_version('kombu')} filesystem transport"


_FAKE_SERVER = None


def fake_redis_server():
    """The one FakeServer every embedded Redis client in this process shares."""
    global _FAKE_SERVER
    if _FAKE_SERVER is None:
        import fakeredis

        _FAKE_SERVER = fakeredis.FakeServer()
    return _FAKE_SERVER


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
    if service in ("container_builder", "base_image", "capture"):
        return
    if service == "memcached":
        __import__("pymemcache")
        return
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
            # Local tools may wait for a storage lock held by another build: that is not an outage.
            deadline = 35.0 if service in ("container_builder", "base_image") else CHECK_SECONDS
            version = _with_deadline(lambda: _probe_real(service, url), deadline)
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
    header = f"{'service':<17} {'mode':<9} {'status':<12} {'version':<32} {'latency':>9}  target"
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for r in results:
        status = "ok" if r.reachable else "UNREACHABLE"
        latency = f"{r.latency_ms:7.1f} ms" if r.latency_ms is not None else "        -"
        print(
            f"{r.service:<17} {r.mode:<9} {status:<12} {r.version[:32]:<32} {latency:>9}  {r.target}",
            file=stream,
        )
    failed = [r for r in results if not r.reachable]
    for r in failed:
        print("\n" + explain(r), file=stream)
    if not failed:
        print("\nAll services ready.", file=stream)
    return 1 if failed else 0
