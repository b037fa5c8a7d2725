import pytest

from pollsystem.core import health


@pytest.mark.django_db
def test_liveness_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert {name: check["status"] for name, check in ready.json()["checks"].items()} == {
        "database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readiness_fails_while_the_database_is_unreachable(client, monkeypatch):
    def unreachable():
        raise ConnectionRefusedError("database down")

    monkeypatch.setitem(health.CHECKS, "database", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "error", "error": "ConnectionRefusedError"}
    assert client.get("/healthz").status_code == 200  # alive, just not ready: no restart


@pytest.mark.django_db
def test_probes_do_not_open_a_transaction(client, django_assert_num_queries):
    # ATOMIC_REQUESTS would open one for every view; liveness must answer while the database is down.
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
