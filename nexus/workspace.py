"""A throwaway workspace for one notebook run.

A Workspace owns everything a run creates: a temp directory, a scratch database, Redis
keys under its own prefix, Celery queue names, and any subprocess it spawned. ``close()``
(also run at interpreter exit) removes all of it, so two runs at the same time, or two
Run-Alls in one kernel, never see each other's data.
"""

from __future__ import annotations

import atexit
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
import weakref
from pathlib import Path

from nexus import services

_FAKE_SERVER = None


def fake_redis_server():
    """The one FakeServer every embedded Redis client in this process shares."""
    global _FAKE_SERVER
    if _FAKE_SERVER is None:
        import fakeredis

        _FAKE_SERVER = fakeredis.FakeServer()
    return _FAKE_SERVER


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

    def describe(self) -> None:
        """Print which backend each service uses in this run."""
        for service, variable in services.VARIABLES.items():
            url = services.configured(service)
            where = services.mask(url) if url else services.EMBEDDED[service]
            print(f"{service:<15} {services.mode(service):<9} {where}   ({variable})")

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
            folder = self.path / "broker"
            for sub in ("queue", "processed"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            config["broker_url"] = "filesystem://"
            config["broker_transport_options"] = {
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "processed_folder": str(folder / "processed"),
                "store_processed": False,
                "polling_interval": 0.1,
            }
        return config

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
