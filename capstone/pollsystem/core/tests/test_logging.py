import json
import logging

import pytest

from pollsystem.core.logging import JsonFormatter, RequestIdFilter, request_id


@pytest.fixture
def records():
    captured = []

    class Keep(logging.Handler):
        def emit(self, record):
            captured.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield captured
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_every_line_of_a_request_shares_its_id(client, records):
    response = client.get("/api/v1/polls/")
    rid = response["X-Request-ID"]
    assert len(rid) == 32
    mine = [r for r in records if getattr(r, "request_id", None) == rid]
    assert any(r.name == "pollsystem.request" for r in mine)
    assert request_id.get() == "-"  # reset after the request


@pytest.mark.django_db
def test_a_well_formed_incoming_id_is_kept_and_a_bad_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="trace-42")["X-Request-ID"] == "trace-42"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"] != "bad id\nwith newline"


def test_lines_are_json_without_secrets():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "vote cast", None, None)
    record.poll_id, record.request_id, record.password = 7, "abc", "hunter2"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "vote cast" and line["poll_id"] == 7 and line["request_id"] == "abc"
    assert "hunter2" not in json.dumps(line)  # only listed fields are written
