"""Each chapter also runs with another, smaller parameter set (as papermill users will),
and a misconfigured service stops a chapter at once with a message that says what to fix."""

from __future__ import annotations

import time

import papermill
import pytest
from conftest import chapter_params, read

from nexus.notebooks import chapters
from nexus.services import VARIABLES

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", chapter_params())
def test_runs_with_the_small_parameter_set(path, tmp_path, monkeypatch):
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    small = read(path).metadata["nexus"]["small_parameters"]
    papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters=small,
                               cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                               execution_timeout=120)


def test_bad_service_url_fails_the_first_chapter_in_under_five_seconds(tmp_path, monkeypatch):
    first = chapters()[0]
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NEXUS_REDIS_URL", "redis://127.0.0.1:1")
    started = time.perf_counter()
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(first), str(tmp_path / first.name), cwd=str(first.parent),
                                   kernel_name="python3", progress_bar=False, execution_timeout=30)
    failing = read(tmp_path / first.name)
    elapsed = time.perf_counter() - started
    assert err.value.ename == "ServiceUnavailable"
    assert "NEXUS_REDIS_URL" in err.value.evalue
    cell_seconds = [c.metadata.get("papermill", {}).get("duration") or 0 for c in failing.cells]
    assert sum(cell_seconds) < 5, f"cells ran {sum(cell_seconds):.1f} s before failing (whole run {elapsed:.1f} s)"
