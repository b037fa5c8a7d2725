"""Unit tests for the nexus plumbing. None of these needs a real service."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import nexus
from nexus import bench, checks, datasets, services
from nexus.services import VARIABLES, ServiceUnavailable
from nexus.workspace import Workspace


@pytest.fixture(autouse=True)
def embedded(monkeypatch):
    """Every test starts in embedded mode, whatever the caller's environment says."""
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port


@pytest.fixture
def silent_server():
    """A server that accepts connections and then never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


# -- configuration ------------------------------------------------------------------
def test_unset_and_empty_variables_mean_embedded(monkeypatch):
    assert services.configured("redis") is None
    monkeypatch.setenv("NEXUS_REDIS_URL", "   ")
    assert services.configured("redis") is None
    assert services.mode("redis") == "embedded"
    monkeypatch.setenv("NEXUS_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert services.mode("redis") == "real"


@pytest.mark.parametrize("url, shown", [
    ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
    ("mysql+pymysql://root:s3cret@db:3306/test", "mysql+pymysql://root:***@db:3306/test"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("redis://:onlypass@cache/0", "redis://:***@cache/0"),
])
def test_mask_hides_passwords(url, shown):
    assert services.mask(url) == shown


def test_embedded_probes_all_succeed():
    for service in VARIABLES:
        result = services.probe(service)
        assert result.reachable and result.mode == "embedded" and result.version, result


@pytest.mark.parametrize("service, url, fragment", [
    ("redis", "redis://127.0.0.1:notaport/0", "cannot be parsed"),
    ("database", "postgres://127.0.0.1/test", "not a URL this project can use"),
    ("broker", "http://127.0.0.1:5672/", "not a URL this project can use"),
    ("redis", "nonsense", "not a URL this project can use"),
])
def test_bad_urls_are_rejected_with_the_variable_named(monkeypatch, service, url, fragment):
    monkeypatch.setenv(VARIABLES[service], url)
    with pytest.raises(ServiceUnavailable) as err:
        services.require(service)
    message = str(err.value)
    assert VARIABLES[service] in message and fragment in message
    assert "unset " + VARIABLES[service] in message


@pytest.mark.parametrize("service, template", [
    ("redis", "redis://127.0.0.1:{port}/0"),
    ("database", "mysql+pymysql://root:hunter2@127.0.0.1:{port}/test"),
    ("broker", "amqp://guest:hunter2@127.0.0.1:{port}//"),
    ("result_backend", "redis://127.0.0.1:{port}/1"),
    ("result_backend", "db+mysql+pymysql://root@127.0.0.1:{port}/test"),
])
def test_closed_port_fails_fast_names_the_variable_and_masks_the_password(monkeypatch, closed_port,
                                                                         service, template):
    monkeypatch.setenv(VARIABLES[service], template.format(port=closed_port))
    start = time.perf_counter()
    with pytest.raises(ServiceUnavailable) as err:
        services.require(service)
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert VARIABLES[service] in message
    assert "hunter2" not in message
    assert "Fix:" in message


@pytest.mark.parametrize("service, template", [
    ("redis", "redis://127.0.0.1:{port}/0"),
    ("database", "mysql+pymysql://root@127.0.0.1:{port}/test"),
    ("broker", "amqp://guest:guest@127.0.0.1:{port}//"),
])
def test_a_server_that_never_answers_fails_within_five_seconds(monkeypatch, silent_server, service, template):
    monkeypatch.setenv(VARIABLES[service], template.format(port=silent_server))
    start = time.perf_counter()
    with pytest.raises(ServiceUnavailable) as err:
        services.require(service)
    assert time.perf_counter() - start < 5
    assert VARIABLES[service] in str(err.value)


def test_workspace_checks_configured_services_before_creating_anything(monkeypatch, closed_port):
    monkeypatch.setenv("NEXUS_REDIS_URL", f"redis://127.0.0.1:{closed_port}/0")
    with pytest.raises(ServiceUnavailable, match="NEXUS_REDIS_URL"):
        Workspace("never")


def test_doctor_exit_codes(monkeypatch, closed_port):
    out = io.StringIO()
    assert services.doctor(out) == 0
    assert "All services ready" in out.getvalue()
    monkeypatch.setenv("NEXUS_BROKER_URL", f"amqp://guest:guest@127.0.0.1:{closed_port}//")
    out = io.StringIO()
    assert services.doctor(out) == 1
    assert "UNREACHABLE" in out.getvalue() and "NEXUS_BROKER_URL" in out.getvalue()


def test_doctor_command_line():
    result = subprocess.run([sys.executable, "-m", "nexus", "doctor"], capture_output=True, text=True,
                            env={k: v for k, v in __import__("os").environ.items() if k not in VARIABLES.values()})
    assert result.returncode == 0, result.stderr
    for service in VARIABLES:
        assert service in result.stdout


# -- workspace ------------------------------------------------------------------------
def test_workspace_cleans_up_everything():
    ws = Workspace("unit")
    path = ws.path
    engine = ws.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    r = ws.redis()
    r.set(ws.key("a"), 1)
    r.set("someone-else", 1)
    proc = ws.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    ws.close()
    assert not path.exists()
    assert proc.poll() is not None
    assert not list(r.scan_iter(match=ws.key("*")))
    assert r.get("someone-else") == "1"
    r.delete("someone-else")
    ws.close()  # idempotent


def test_two_workspaces_do_not_share_keys_or_files():
    with Workspace("a") as a, Workspace("b") as b:
        assert a.path != b.path and a.key("x") != b.key("x")
        assert a.database_url() != b.database_url()


def test_embedded_async_url_uses_aiosqlite():
    with Workspace("async") as ws:
        assert ws.async_database_url().startswith("sqlite+aiosqlite:///")


def test_celery_config_embedded_uses_filesystem_and_a_private_queue():
    with Workspace("celery") as ws:
        config = ws.celery_config()
        assert config["broker_url"] == "atomicfs://"
        assert Path(config["broker_transport_options"]["data_folder_in"]).is_dir()
        assert config["result_backend"].startswith("db+sqlite:///")
        assert ws.run_id in config["task_default_queue"]
        assert "import nexus.celery_transport" in ws.write_celery_config().read_text()


def test_the_embedded_broker_writes_whole_messages_only(monkeypatch):
    from kombu import Connection

    from nexus import celery_transport

    renamed = []
    real_replace = os.replace

    def replace_and_look(src, dst):  # at the rename, the message is complete and hidden from readers
        assert Path(src).name.startswith(".") and Path(src).name.endswith(".part")
        json.loads(Path(src).read_bytes())
        renamed.append(Path(dst).name)
        return real_replace(src, dst)

    monkeypatch.setattr(celery_transport.os, "replace", replace_and_look)
    monkeypatch.delenv("NEXUS_BROKER_URL", raising=False)
    with Workspace("broker") as ws:
        config = ws.celery_config()
        options = config["broker_transport_options"]
        with Connection(config["broker_url"], transport_options=options) as conn:
            assert type(conn.transport) is celery_transport.Transport
            queue = conn.SimpleQueue(f"q-{ws.run_id}")
            queue.put({"n": 1})
            assert renamed and renamed[0].endswith(".msg")
            assert not [p for p in os.listdir(options["data_folder_out"]) if p.endswith(".part")]
            message = queue.get(timeout=5)
            assert message.payload == {"n": 1}
            message.ack()
            queue.close()


def test_workspace_rejects_a_non_mysql_database(monkeypatch):
    monkeypatch.setattr(services, "require_configured", lambda: [])
    monkeypatch.setenv("NEXUS_DATABASE_URL", "postgresql://127.0.0.1/test")
    with Workspace("pg") as ws, pytest.raises(ServiceUnavailable, match="MySQL/MariaDB"):
        ws.engine()


# -- bench ----------------------------------------------------------------------------
def test_measure_and_sweep_return_numbers():
    t = bench.measure(time.sleep, 0.002, repeat=3)
    assert len(t.runs) == 3 and 0.0015 < t.median < 0.05
    assert "ms" in str(t)
    df = bench.sweep([10, 1000], {"sum": lambda n: (lambda: sum(range(n * 100)))}, repeat=2)
    assert list(df.columns[:3]) == ["size", "variant", "seconds"] and len(df) == 2
    with pytest.raises(TypeError):
        bench.measure(asyncio.sleep)


def test_ameasure_and_growth_exponent():
    t = asyncio.run(bench.ameasure(asyncio.sleep, 0.001, repeat=2))
    assert t.best >= 0.0009
    assert abs(bench.growth_exponent([1, 10, 100], [1, 10, 100]) - 1) < 1e-9
    assert abs(bench.growth_exponent([1, 10, 100], [5, 5, 5])) < 1e-9


def test_stopwatch_and_format():
    with bench.stopwatch() as sw:
        time.sleep(0.001)
    assert sw.elapsed > 0
    assert bench.format_seconds(0.0123) == "12.3 ms"
    assert bench.format_seconds(2.5) == "2.5 s"


def test_growth_plot_draws_one_line_per_variant():
    import pandas as pd

    df = pd.DataFrame({"size": [1, 2, 1, 2], "variant": ["a", "a", "b", "b"], "seconds": [1, 2, 1, 1]})
    ax = nexus.growth_plot(df, title="t")
    assert len(ax.get_lines()) == 2


# -- exercise checks --------------------------------------------------------------------
def _stub(x):
    raise NotImplementedError


def _double(x):
    return 2 * x


def test_check_falls_back_to_the_reference_only_for_the_stub(capsys):
    checks.check(_stub, _double, [((1,), 2), ((3,), 6)])
    assert "still the stub" in capsys.readouterr().out
    checks.check(_double, _stub, [((1,), 2)])
    assert "all 1 cases pass" in capsys.readouterr().out


def test_check_reports_the_first_wrong_answer():
    with pytest.raises(checks.CheckFailed, match=r"_double\(2\) returned 4; expected 5"):
        checks.check(_double, _double, [((1,), 2), ((2,), 5)])


def test_check_reports_a_wrong_reference_too():
    with pytest.raises(checks.CheckFailed):
        checks.check(_stub, _double, [((1,), 3)])


def test_check_raises_cases(capsys):
    def positive(x):
        if x < 0:
            raise ValueError("negative")
        return x

    checks.check(positive, positive, [checks.Case((1,), 1), checks.Case((-1,), raises=ValueError)])
    assert "all 2 cases pass" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed, match="expected it to raise"):
        checks.check(abs, abs, [checks.Case((-1,), raises=ValueError)])


def test_a_reader_that_raises_something_else_is_checked_not_excused():
    def broken(x):
        raise KeyError(x)

    with pytest.raises(KeyError):
        checks.check(broken, _double, [((1,), 2)])


def test_acheck(capsys):
    async def stub(x):
        raise NotImplementedError

    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    asyncio.run(checks.acheck(stub, double, [((2,), 4)]))
    assert "still the stub" in capsys.readouterr().out
    asyncio.run(checks.acheck(double, stub, [((2,), 4)]))
    assert "all 1 cases pass" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed):
        asyncio.run(checks.acheck(double, double, [((2,), 5)]))


# -- datasets -----------------------------------------------------------------------------
def test_dataset_is_deterministic_and_scales():
    a, b = datasets.generate(50, seed=1), datasets.generate(50, seed=1)
    assert a == b
    assert datasets.generate(50, seed=2) != a
    assert len(a["users"]) == 50 and len(a["bookings"]) == 150 and len(a["properties"]) == 10
    big = datasets.generate(500)
    assert len(big["bookings"]) == 1500


def test_dataset_rows_respect_the_domain_rules():
    data = datasets.generate(200)
    assert {u["role"] for u in data["users"]} <= set(datasets.ROLES)
    assert all(b["end_date"] > b["start_date"] for b in data["bookings"])
    confirmed = {b["booking_id"] for b in data["bookings"] if b["status"] == "confirmed"}
    assert {p["booking_id"] for p in data["payments"]} == confirmed
    assert all(m["sender_id"] != m["recipient_id"] for m in data["messages"])


@pytest.mark.parametrize("bad", [0, 9, -5, 2.5, "100"])
def test_dataset_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="users must be"):
        datasets.generate(bad)


def test_unknown_role_is_rejected():
    with pytest.raises(ValueError, match="unknown role 'superuser'"):
        datasets._validate_role("superuser")


def test_schema_rejects_bad_rows():
    with Workspace("schema") as ws:
        engine = ws.engine()
        datasets.build(engine, users=20)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            for stmt in [
                datasets.users.insert().values(first_name="A", last_name="B", email="x@y.z", role="root",
                                               created_at=datasets.EPOCH),
                datasets.reviews.insert().values(property_id=1, user_id=1, rating=6, comment="",
                                                 created_at=datasets.EPOCH),
                datasets.bookings.insert().values(property_id=999, user_id=1, start_date=datasets.EPOCH.date(),
                                                  end_date=datasets.EPOCH.date(), total_price=1, status="pending",
                                                  created_at=datasets.EPOCH),
            ]:
                with pytest.raises(sa.exc.IntegrityError):
                    conn.execute(stmt)
                conn.rollback()


def test_csv_writers(tmp_path):
    paths = datasets.write_csvs(tmp_path, users=20)
    assert set(paths) == set(datasets.TABLES)
    users_csv = datasets.write_users_csv(tmp_path / "u.csv", rows=5)
    assert users_csv.read_text().splitlines()[0] == "user_id,name,email,age"
    assert len(users_csv.read_text().splitlines()) == 6
    with pytest.raises(ValueError):
        datasets.write_users_csv(tmp_path / "bad.csv", rows=-1)


def test_normalise_joins_split_stream_writes_and_drops_run_metadata():
    import nbformat

    from nexus.notebooks import normalise

    nb = nbformat.v4.new_notebook(metadata={"papermill": {}, "language_info": {"name": "python", "version": "3.11.7"}})
    cell = nbformat.v4.new_code_cell("print('a'); print('b')", metadata={"execution": {}, "papermill": {}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a"),
                    nbformat.v4.new_output("stream", name="stdout", text="\nb\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="warn\n")]
    nb.cells.append(cell)
    normalise(nb)
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "a\nb\n"), ("stderr", "warn\n")]
    assert "papermill" not in nb.metadata and "version" not in nb.metadata["language_info"]
    assert nb.cells[0].metadata == {}


# -- the newer services: memcached, container builder, base image, capture -------------
def test_memcached_addresses_and_a_closed_port_fail_fast(monkeypatch, closed_port):
    assert services.memcached_address("127.0.0.1:11211") == ("127.0.0.1", 11211)
    assert services.memcached_address("memcache://cache") == ("cache", 11211)
    monkeypatch.setenv("NEXUS_MEMCACHED_URL", f"127.0.0.1:{closed_port}")
    start = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="NEXUS_MEMCACHED_URL"):
        services.require("memcached")
    assert time.perf_counter() - start < 5


def test_memcached_never_answering_fails_within_five_seconds(monkeypatch, silent_server):
    monkeypatch.setenv("NEXUS_MEMCACHED_URL", f"127.0.0.1:{silent_server}")
    start = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="NEXUS_MEMCACHED_URL"):
        services.require("memcached")
    assert time.perf_counter() - start < 5


def test_embedded_memcached_is_the_mock_client():
    with Workspace("mc") as ws:
        client = ws.memcached()
        client.set(ws.key("k"), b"v", expire=60)
        assert client.get(ws.key("k")) == b"v"


@pytest.mark.parametrize("value, fragment", [("dockr", "not a builder"), ("podman", "")])
def test_an_unknown_or_missing_builder_is_named(monkeypatch, value, fragment):
    monkeypatch.setenv("NEXUS_CONTAINER_BUILDER", value)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ServiceUnavailable) as err:
        services.require("container_builder")
    assert "NEXUS_CONTAINER_BUILDER" in str(err.value) and fragment in str(err.value)


def test_base_image_without_a_builder_is_only_a_name(monkeypatch):
    monkeypatch.setenv("NEXUS_BASE_IMAGE", "localhost/anything:1")
    assert "named only" in services.require("base_image").version


def test_capture_takes_only_live_and_reports_what_is_possible(monkeypatch):
    ok, why = services.can_capture()
    assert isinstance(ok, bool) and why
    assert ("possible" if ok else "not possible") in services.probe("capture").version
    monkeypatch.setenv("NEXUS_CAPTURE", "yes")
    with pytest.raises(ServiceUnavailable, match="only value is 'live'"):
        services.require("capture")


def test_describe_prints_only_the_services_named(capsys):
    with Workspace("describe") as ws:
        ws.describe("redis")
        out = capsys.readouterr().out
        assert "NEXUS_REDIS_URL" in out and "NEXUS_DATABASE_URL" not in out
        with pytest.raises(ValueError):
            ws.describe("redsi")


def test_importable_puts_the_workspace_on_sys_path_until_close():
    ws = Workspace("importable")
    (ws.path / "nexus_probe_module.py").write_text("VALUE = 42\n")
    ws.importable()
    import nexus_probe_module

    assert nexus_probe_module.VALUE == 42
    ws.close()
    assert str(ws.path) not in sys.path and "nexus_probe_module" not in sys.modules


def test_serve_waits_for_the_port_and_stops_the_server():
    ws = Workspace("serve")
    port = nexus.free_port()
    proc = ws.serve([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    ws.close()
    assert proc.poll() is not None
    with pytest.raises(TimeoutError):
        nexus.wait_for_port(port, timeout=0.3)


def test_serve_reports_a_server_that_dies(tmp_path):
    with Workspace("serve_dies") as ws, pytest.raises(RuntimeError, match="did not start"):
        ws.serve([sys.executable, "-c", "raise SystemExit(3)"], port=nexus.free_port(), ready_timeout=5)


@pytest.mark.slow
def test_a_real_celery_worker_runs_a_task_and_is_stopped():
    ws = Workspace("worker")
    ws.write_celery_config()
    (ws.path / "nexus_worker_tasks.py").write_text(
        "from celery import Celery\napp = Celery('t')\napp.config_from_object('celeryconfig')\n\n"
        "@app.task\ndef add(x, y):\n    return x + y\n")
    import nexus_worker_tasks

    proc = ws.celery_worker("nexus_worker_tasks", concurrency=1)
    assert nexus_worker_tasks.add.delay(2, 3).get(timeout=20) == 5
    nexus_worker_tasks.app.close()
    ws.close()
    assert proc.poll() is not None


def test_check_prediction(capsys):
    assert checks.check_prediction(None, 51, model=51, what="queries") is False
    assert "Record your prediction" in capsys.readouterr().out
    assert checks.check_prediction(50, 51, model=51, tolerance=0.05, what="queries") is True
    assert checks.check_prediction(10, 51, model=51, tolerance=0.05, what="queries") is False
    with pytest.raises(checks.CheckFailed, match="reasoning predicts"):
        checks.check_prediction(None, 51, model=2, what="queries")


def test_manual_clock():
    clock = nexus.ManualClock(now=10)
    assert clock() == 10 and clock.advance(2.5) == 12.5 and clock.sleep(0.5) == 13
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_tools_come_from_the_environment():
    assert Path(nexus.tool("hadolint")).exists()
    with pytest.raises(FileNotFoundError, match="make venv"):
        nexus.tool("no-such-tool-here")


@pytest.mark.slow
def test_run_twice_catches_leftover_processes_and_files_in_the_tree(tmp_path):
    import nbformat

    from nexus.notebooks import ROOT, run_twice

    leak = ROOT / "nexus-run-twice-leak.txt"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("N = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import subprocess, pathlib\n"
            f"pathlib.Path({str(leak)!r}).write_text('x')\n"
            "subprocess.Popen(['bash', '-c', 'sleep 30 & disown'], start_new_session=True)\n"
            "child = subprocess.Popen(['sleep', '30'])"),
    ]
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, path)
    try:
        result = run_twice(path, {"N": 2})
    finally:
        leak.unlink(missing_ok=True)
        subprocess.run(["pkill", "-f", "^sleep 30$"], check=False)
    assert len(result["seconds"]) == 2
    assert any("nexus-run-twice-leak.txt" in entry for entry in result["changed"])
    assert any("sleep 30" in entry for entry in result["children_at_end"])
    assert any("sleep 30" in entry for entry in result["survivors"])


def test_growth_plot_uses_plain_tick_labels_and_draws_guides():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    df = pd.DataFrame({"size": [10, 100, 1000] * 2, "seconds": [1e-5] * 3 + [1e-4, 1e-3, 1e-2],
                       "variant": ["flat"] * 3 + ["linear"] * 3})
    ax = nexus.growth_plot(df, guides=("O(1)", "O(n)"), anchor="linear")
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert "1,000" in labels and "0.001" in labels
    assert not any("times" in s or "×" in s or "^" in s for s in labels), labels
    guide = {line.get_label(): line for line in ax.get_lines()}["O(n) guide"]
    assert list(guide.get_ydata()) == pytest.approx([1e-4, 1e-3, 1e-2])
    with pytest.raises(ValueError, match="unknown guide"):
        nexus.growth_plot(df, guides=("O(n^3)",))
