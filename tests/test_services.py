"""The plumbing against the real services on loopback. Skips, with the reason, where they are absent."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import port_open

from nexus import services
from nexus.services import VARIABLES, ServiceUnavailable
from nexus.workspace import Workspace

pytestmark = pytest.mark.services

MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"
REDIS = "redis://127.0.0.1:6379/0"
RABBIT = "amqp://guest:guest@127.0.0.1:5672//"

need_mariadb = pytest.mark.skipif(not port_open("127.0.0.1", 3306), reason="no MariaDB on 127.0.0.1:3306")
need_redis = pytest.mark.skipif(not port_open("127.0.0.1", 6379), reason="no Redis on 127.0.0.1:6379")
need_rabbit = pytest.mark.skipif(not port_open("127.0.0.1", 5672), reason="no RabbitMQ on 127.0.0.1:5672")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)


@need_mariadb
def test_mariadb_probe_and_wrong_credentials(monkeypatch):
    monkeypatch.setenv("NEXUS_DATABASE_URL", MARIADB)
    assert "MariaDB" in services.require("database").version
    monkeypatch.setenv("NEXUS_DATABASE_URL", "mysql+pymysql://nexus_nobody:wrong-pass@127.0.0.1:3306/test")
    with pytest.raises(ServiceUnavailable) as err:
        services.require("database")
    assert "NEXUS_DATABASE_URL" in str(err.value) and "Access denied" in str(err.value)
    assert "wrong-pass" not in str(err.value)


@need_redis
def test_redis_probe_and_wrong_credentials(monkeypatch):
    monkeypatch.setenv("NEXUS_REDIS_URL", REDIS)
    assert services.require("redis").version.startswith("Redis ")
    monkeypatch.setenv("NEXUS_REDIS_URL", "redis://nobody:wrong-pass@127.0.0.1:6379/0")
    with pytest.raises(ServiceUnavailable) as err:
        services.require("redis")
    assert "NEXUS_REDIS_URL" in str(err.value) and "wrong-pass" not in str(err.value)


@need_rabbit
def test_rabbitmq_probe_and_wrong_credentials(monkeypatch):
    monkeypatch.setenv("NEXUS_BROKER_URL", RABBIT)
    assert "RabbitMQ" in services.require("broker").version
    monkeypatch.setenv("NEXUS_BROKER_URL", "amqp://guest:wrong-pass@127.0.0.1:5672//")
    with pytest.raises(ServiceUnavailable) as err:
        services.require("broker")
    assert "ACCESS_REFUSED" in str(err.value) and "wrong-pass" not in str(err.value)


@need_mariadb
def test_workspace_creates_and_drops_its_own_database(monkeypatch):
    monkeypatch.setenv("NEXUS_DATABASE_URL", MARIADB)
    ws = Workspace("live")
    engine = ws.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INT)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    name = sa.make_url(ws.database_url()).database
    assert name.startswith("nexus_live_")
    ws.close()
    server = sa.create_engine(MARIADB)
    with server.connect() as conn:
        names = {row[0] for row in conn.exec_driver_sql("SHOW DATABASES")}
    server.dispose()
    assert name not in names


@need_redis
def test_workspace_deletes_only_its_own_redis_keys(monkeypatch):
    monkeypatch.setenv("NEXUS_REDIS_URL", REDIS)
    ws = Workspace("live")
    r = ws.redis()
    r.set(ws.key("k"), "v")
    r.set("nexus-test-bystander", "v")
    ws.close()
    assert r.get(ws.key("k")) is None
    assert r.get("nexus-test-bystander") == "v"
    r.delete("nexus-test-bystander")
    r.close()


need_memcached = pytest.mark.skipif(not port_open("127.0.0.1", 11211), reason="no memcached on 127.0.0.1:11211")


@need_memcached
def test_memcached_probe_and_a_round_trip(monkeypatch):
    monkeypatch.setenv("NEXUS_MEMCACHED_URL", "127.0.0.1:11211")
    assert services.require("memcached").version.startswith("memcached ")
    with Workspace("live") as ws:
        client = ws.memcached()
        client.set(ws.key("k"), b"v", expire=30)
        assert client.get(ws.key("k")) == b"v"
        client.delete(ws.key("k"))


def test_live_capture_probe_matches_what_this_machine_can_do(monkeypatch):
    monkeypatch.setenv("NEXUS_CAPTURE", "live")
    ok, why = services.can_capture()
    if ok:
        assert "live capture" in services.require("capture").version
    else:
        with pytest.raises(ServiceUnavailable, match="NEXUS_CAPTURE"):
            services.require("capture")
