"""A throwaway workspace for one notebook run.

A Workspace owns everything a run creates: a temp directory, a scratch database, Redis
keys under its own prefix, Celery queue names, and any subprocess it spawned. ``close()``
(also run at interpreter exit) removes all of it, so two runs at the same time, or two
Run-Alls in one kernel, never see each other's data.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from pathlib import Path

from nexus import services
from nexus.services import fake_redis_server


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:24] or "run"


class Workspace:
    """Temp dir, scratch database, Redis prefix and Celery settings for one run.

    Creating it checks every service whose ``NEXUS_*`` variable is set, so a bad
    configuration fails at the top of a notebook with a message that says how to fix it.
    """

    def __init__(self, name: str, *, check_services: bool = True):
        if check_services:
            services.require_configured()
        self.name = _slug(name)
        self.run_id = f"{self.name}_{uuid.uuid4().hex[:8]}"
        self.path = Path(tempfile.mkdtemp(prefix=f"nexus-{self.name}-"))
        self._cleanups: list = []
        self._engine = None
        self._scratch_url = None
        self._redis_used = False
        self.closed = False
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)
        atexit.register(self.close)

    # -- description -------------------------------------------------------------
    def __repr__(self) -> str:
        modes = ", ".join(f"{s}={services.mode(s)}" for s in services.VARIABLES)
        return f"<Workspace {self.name}: {modes}>"

    def describe(self, *used: str) -> None:
        """Print which backend each service this chapter uses runs on (all of them if none named)."""
        unknown = set(used) - set(services.VARIABLES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; choose from {list(services.VARIABLES)}")
        for service in used or services.VARIABLES:
            variable = services.VARIABLES[service]
            url = services.configured(service)
            where = services.mask(url) if url else services.EMBEDDED[service]
            print(f"{service:<17} {services.mode(service):<9} {where}   ({variable})")

    # -- files other processes import ------------------------------------------------
    def importable(self, folder: Path | str | None = None) -> Path:
        """Put ``folder`` (default: the workspace) on ``sys.path`` until the workspace closes,
        so modules written there with ``%%writefile`` import in this kernel too."""
        folder = str(folder or self.path)
        if folder not in sys.path:
            sys.path.insert(0, folder)

            def forget():
                if folder in sys.path:
                    sys.path.remove(folder)
                for name, module in list(sys.modules.items()):
                    if (getattr(module, "__file__", None) or "").startswith(folder):
                        del sys.modules[name]

            self._cleanups.append(forget)
        return Path(folder)

    # -- relational database -----------------------------------------------------
    @property
    def dialect(self) -> str:
        """'sqlite' (embedded) or 'mysql' (MySQL/MariaDB through NEXUS_DATABASE_URL)."""
        return "mysql" if services.configured("database") else "sqlite"

    def database_url(self) -> str:
        """A SQLAlchemy URL for this run's own scratch database."""
        if self._scratch_url is None:
            url = services.configured("database")
            if url is None:
                self._scratch_url = f"sqlite:///{self.path / 'nexus.sqlite'}"
            else:
                self._scratch_url = self._create_scratch_database(url)
        return self._scratch_url

    def _create_scratch_database(self, url: str) -> str:
        import sqlalchemy as sa

        server = sa.make_url(url)
        if server.get_backend_name() not in ("mysql", "mariadb"):
            raise services.ServiceUnavailable(
                f"NEXUS_DATABASE_URL={services.mask(url)} uses '{server.get_backend_name()}'; "
                "this project supports MySQL/MariaDB there (e.g. "
                f"{services.EXAMPLES['database']}), or unset it for SQLite."
            )
        name = f"nexus_{self.run_id}"
        admin = sa.create_engine(server, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

        def drop():
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            admin.dispose()

        self._cleanups.append(drop)
        return server.set(database=name).render_as_string(hide_password=False)

    def engine(self, **kwargs):
        """A SQLAlchemy engine on the scratch database (created on first use)."""
        import sqlalchemy as sa

        if self._engine is None or kwargs:
            engine = sa.create_engine(self.database_url(), **kwargs)
            self._cleanups.append(engine.dispose)
            if kwargs:
                return engine
            self._engine = engine
        return self._engine

    def async_database_url(self) -> str:
        """The scratch database's URL with an asyncio driver (aiosqlite or aiomysql)."""
        import sqlalchemy as sa

        url = sa.make_url(self.database_url())
        driver = "sqlite+aiosqlite" if self.dialect == "sqlite" else "mysql+aiomysql"
        return url.set(drivername=driver).render_as_string(hide_password=False)

    def sqlite_path(self) -> Path:
        """A path for a plain sqlite3 database file inside the workspace."""
        return self.path / "plain.sqlite"

    # -- Redis -------------------------------------------------------------------
    def key(self, *parts) -> str:
        """A Redis key under this run's prefix, e.g. ``ws.key('cache', 42)``."""
        return ":".join(["nexus", self.run_id, *map(str, parts)])

    def redis(self, *, decode_responses: bool = True, asyncio: bool = False):
        """A Redis client: fakeredis when embedded, the real server otherwise.

        Keys made with ``ws.key(...)`` are deleted when the workspace closes.
        """
        url = services.configured("redis")
        if url is None:
            import fakeredis

            cls = fakeredis.FakeAsyncRedis if asyncio else fakeredis.FakeRedis
            client = cls(server=fake_redis_server(), decode_responses=decode_responses)
        else:
            import redis
            import redis.asyncio

            cls = redis.asyncio.Redis if asyncio else redis.Redis
            client = cls.from_url(
                url,
                decode_responses=decode_responses,
                socket_connect_timeout=3,
                socket_timeout=10,
            )
        if not self._redis_used:
            self._redis_used = True
            self._cleanups.append(self._forget_redis_keys)
        return client

    def _forget_redis_keys(self) -> None:
        url = services.configured("redis")
        if url is None:
            import fakeredis

            client = fakeredis.FakeRedis(server=fake_redis_server())
        else:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        keys = list(client.scan_iter(match=self.key("*"), count=500))
        if keys:
            client.delete(*keys)
        client.close()

    # -- Memcached ---------------------------------------------------------------
    def memcached(self):
        """A memcached client: pymemcache's in-process mock when embedded, the server otherwise.

        Keys should be made with ``ws.key(...)``; memcached cannot list keys, so each run's
        keys simply expire or are overwritten by nobody else.
        """
        url = services.configured("memcached")
        if url is None:
            from pymemcache.test.utils import MockMemcacheClient

            return MockMemcacheClient()
        from pymemcache.client.base import Client

        # no_delay: without TCP_NODELAY a noreply set followed by a get waits on delayed ACKs
        # (about 40 ms per round trip on loopback).
        client = Client(services.memcached_address(url), connect_timeout=3, timeout=10, no_delay=True)
        self._cleanups.append(client.close)
        return client

    # -- Celery ------------------------------------------------------------------
    def celery_config(self) -> dict:
        """Celery settings for this run: broker, result backend and a private queue."""
        broker = services.configured("broker")
        backend = services.configured("result_backend")
        config = {
            "task_default_queue": f"nexus.{self.run_id}",
            "result_backend": backend or f"db+sqlite:///{self.path / 'celery-results.sqlite'}",
            "broker_connection_retry_on_startup": False,
            "broker_connection_timeout": 3,
            "worker_hijack_root_logger": False,
        }
        if broker:
            config["broker_url"] = broker
        else:
            from nexus import celery_transport  # registers atomicfs:// in this process

            folder = self.path / "broker"
            for sub in ("queue", "processed", "control"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            config["broker_url"] = f"{celery_transport.SCHEME}://"  # kombu's filesystem transport, atomic writes
            config["broker_transport_options"] = {
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "processed_folder": str(folder / "processed"),
                "control_folder": str(folder / "control"),  # default "control" is relative to the cwd
                "store_processed": False,
                "polling_interval": 0.1,
            }
        return config

    def write_celery_config(self, module: str = "celeryconfig", **overrides) -> Path:
        """Write this run's Celery settings as ``<module>.py`` in the workspace, for a worker
        process to load with ``app.config_from_object("celeryconfig")``. Returns the path."""
        config = {**self.celery_config(), **overrides}
        lines = ['"""Celery settings for this run, written by nexus.Workspace.write_celery_config()."""', ""]
        if str(config.get("broker_url", "")).startswith("atomicfs://"):
            lines += ["import nexus.celery_transport  # noqa: F401  (registers the atomicfs:// broker)", ""]
        lines += [f"{key} = {value!r}" for key, value in config.items()]
        path = self.path / f"{module}.py"
        path.write_text("\n".join(lines) + "\n")
        self.importable()
        return path

    def celery_worker(self, app: str, *, concurrency: int = 1, queues: list[str] | None = None,
                      pool: str = "prefork", loglevel: str = "INFO", extra: tuple = (),
                      name: str = "worker", ready_timeout: float = 30.0) -> subprocess.Popen:
        """Start a real ``celery worker`` process for ``app`` (a module in the workspace, e.g.
        ``"tasks"``), wait until it is ready, and stop it when the workspace closes.

        Its log goes to ``ws.path / f"{name}.log"``. The worker is shut down through Celery's
        remote control first (fast), then SIGTERM, then SIGKILL.
        """
        log = self.path / f"{name}.log"
        queue_names = queues or [self.celery_config()["task_default_queue"]]
        node = f"{name}-{self.run_id}@%h"
        args = [sys.executable, "-m", "celery", "-A", app, "worker", "--pool", pool,
                "--concurrency", str(concurrency), "--loglevel", loglevel, "-n", node,
                "-Q", ",".join(queue_names), "--without-gossip", "--without-mingle",
                "--logfile", str(log), *extra]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(self.path), os.environ.get("PYTHONPATH", "")])}
        for variable in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            env.pop(variable, None)  # they would silently override the app's own broker
        proc = subprocess.Popen(args, cwd=self.path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT, start_new_session=True)
        if services.configured("broker"):
            self._cleanups.append(lambda: self._delete_queues(queue_names))
        # Teardown only: a cold shutdown (SIGQUIT), then SIGKILL for the pool children.
        self._cleanups.append(lambda: _stop_process_group(proc, timeout=1, first=signal.SIGQUIT))
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{_tail(log)}")
            if log.exists() and " ready." in log.read_text(errors="replace"):
                return proc
            time.sleep(0.05)
        _stop_process_group(proc, timeout=5)
        raise TimeoutError(f"celery worker not ready after {ready_timeout:g} s:\n{_tail(log)}")

    def _delete_queues(self, names) -> None:
        """Remove this run's queues from a real broker (the embedded broker lives in the temp dir)."""
        from kombu import Connection

        with Connection(services.configured("broker"), connect_timeout=3) as conn:
            channel = conn.default_channel
            for name in names:
                channel.queue_delete(name)
                channel.exchange_delete(name)  # Celery declares an exchange named after each queue

    # -- processes ---------------------------------------------------------------
    def spawn(self, args, **popen_kwargs) -> subprocess.Popen:
        """Start a subprocess that is stopped (SIGTERM, then SIGKILL) when the workspace closes."""
        proc = subprocess.Popen(args, **popen_kwargs)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

        self._cleanups.append(stop)
        return proc

    def serve(self, args, *, port: int, name: str = "server", ready_timeout: float = 15.0,
              **popen_kwargs) -> subprocess.Popen:
        """Start a server process that listens on 127.0.0.1:``port``, wait until it accepts
        connections, and stop it (its whole process group) when the workspace closes.
        Its output goes to ``ws.path / f"{name}.log"``."""
        log = open(self.path / f"{name}.log", "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                **popen_kwargs)
        self._cleanups.append(log.close)
        self._cleanups.append(lambda: _stop_process_group(proc, timeout=10))
        try:
            wait_for_port(port, timeout=ready_timeout, process=proc)
        except Exception as exc:
            _stop_process_group(proc, timeout=5)
            raise RuntimeError(f"{name} did not start: {exc}\n{_tail(self.path / f'{name}.log')}") from exc
        return proc

    def on_close(self, fn) -> None:
        """Register ``fn()`` to run when the workspace closes (last registered runs first)."""
        self._cleanups.append(fn)

    # -- teardown ----------------------------------------------------------------
    def close(self) -> None:
        """Undo everything this workspace created. Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        errors = []
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as exc:  # keep cleaning; report at the end
                errors.append(exc)
        self._engine = None
        self._finalizer()
        atexit.unregister(self.close)
        if errors:
            raise RuntimeError(f"workspace cleanup had {len(errors)} error(s): {errors[0]!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", *, timeout: float = 10.0, process=None) -> float:
    """Block until ``host:port`` accepts a TCP connection; returns the seconds waited.

    Raises TimeoutError after ``timeout`` s, or RuntimeError at once if ``process`` exits first.
    """
    start = time.monotonic()
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return time.monotonic() - start
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before {host}:{port} opened")
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout:g} s")
        time.sleep(0.02)


def _stop_process_group(proc: subprocess.Popen, timeout: float, first=signal.SIGTERM) -> None:
    """Send ``first`` (SIGTERM) to the process, then SIGKILL its whole group if it has not
    exited within ``timeout``. (A Celery worker stops at once on SIGQUIT, its cold shutdown.)"""
    if proc.poll() is None:
        proc.send_signal(first)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the process left behind in its group
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
