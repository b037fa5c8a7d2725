"""Each chapter runs twice in one kernel with a smaller parameter set (papermill's injection), as
a reader pressing Run All again would; and a misconfigured service stops a chapter at once with a
message that says what to fix."""

from __future__ import annotations

import time

import papermill
import pytest
from conftest import chapter_params, read

from nexus.notebooks import chapters, run_twice
from nexus.services import VARIABLES

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", chapter_params())
def test_runs_twice_in_one_kernel_with_the_small_parameter_set(path, monkeypatch):
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    small = read(path).metadata["nexus"]["small_parameters"]
    result = run_twice(path, small)
    assert not result["changed"], f"the runs wrote into the repository: {result['changed'][:10]}"
    assert not result["children_at_end"], f"still running when the notebook ended: {result['children_at_end']}"
    assert not result["survivors"], f"outlived the kernel: {result['survivors']}"


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
