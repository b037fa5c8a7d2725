"""Project tooling for the notebooks themselves: find, execute (refresh stored outputs), bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from nexus.services import VARIABLES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 120


def chapters() -> list[Path]:
    """Every chapter notebook, in reading order (the template is not a chapter)."""
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb")
                  if "_template" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def embedded_env() -> dict:
    """The current environment with every NEXUS_* service variable removed."""
    env = dict(os.environ)
    for variable in VARIABLES.values():
        env.pop(variable, None)
    return env


def _run(nb, directory: Path, env: dict | None = None) -> float:
    """Execute ``nb`` in a fresh kernel started in ``directory`` with ``env`` (default: the
    embedded services). Outputs go into ``nb``; returns the run time in seconds."""
    from nbclient import NotebookClient

    env = env or embedded_env()  # read before clearing: the kernel inherits this environment
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                                record_timing=False, resources={"metadata": {"path": str(directory)}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute(path: Path, *, env: dict | None = None) -> float:
    """Run ``path`` top to bottom on the embedded services and store the outputs in place."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    elapsed = _run(nb, path.parent, env)
    normalise(nb)
    nbformat.write(nb, path)
    return elapsed


def normalise(nb) -> None:
    """Drop metadata that changes from run to run or machine to machine."""
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    info = nb.metadata.get("language_info", {})
    info.pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.metadata.pop("collapsed", None)
            cell.outputs = _coalesce_streams(cell.outputs)


def _coalesce_streams(outputs) -> list:
    """Join consecutive writes to one stream: how prints are split up varies from run to run."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (last is not None and out.output_type == "stream" and last.output_type == "stream"
                and last.name == out.name):
            last.text += out.text
        else:
            merged.append(out)
    return merged


def run_twice(path: Path, parameters: dict | None = None) -> dict:
    """Run every cell of ``path`` twice in ONE kernel (a reader pressing Run All again), with
    ``parameters`` injected after the parameters cell as papermill does. Returns what a test
    needs to judge the run: the seconds of each pass, the repository files the runs created or
    changed, and any process started by the kernel that is still alive after it shut down.
    """
    import uuid

    import psutil
    from nbclient import NotebookClient
    from papermill.parameterize import parameterize_notebook

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    if parameters:
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb.metadata.setdefault("papermill", {})
        nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    tag = f"nexus-run-{uuid.uuid4().hex}"
    before = _tree_state()
    env = {**embedded_env(), "NEXUS_RUN_TAG": tag}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    seconds = []
    descendants = []
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    try:
        with client.setup_kernel():
            for _ in range(2):
                start = time.perf_counter()
                for index, cell in enumerate(client.nb.cells):
                    client.execute_cell(cell, index)
                seconds.append(time.perf_counter() - start)
            kernel_pid = client.km.provisioner.process.pid
            descendants = [f"{p.pid} {' '.join(p.cmdline())[:120]}"
                           for p in psutil.Process(kernel_pid).children(recursive=True) if _alive(p)]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    time.sleep(0.5)  # let the kernel's process group finish exiting
    survivors = [f"{pid} {cmd}" for pid, cmd in _processes_tagged(tag)]
    # Other chapters' notebooks may be re-executed meanwhile (make execute); those are not ours.
    own = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else None
    changed = sorted(entry for entry in set(_tree_state()) - set(before)
                     if not (entry.startswith("notebooks/") and entry.split(" ")[0].endswith(".ipynb")
                             and entry.split(" ")[0] != own))
    return {"seconds": seconds, "changed": changed, "children_at_end": descendants,
            "survivors": survivors}


def _alive(proc) -> bool:
    try:
        return proc.status() != "zombie"
    except Exception:
        return False


def _tree_state() -> list[str]:
    """Every file under the repository (ignored ones too, but not build or cache folders), with
    its modification time: new or changed entries show what a run wrote into the tree."""
    skip = {".git", ".venv", "_build", ".pytest_cache", ".ruff_cache", ".jupyter_cache", "node_modules"}
    state = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip and d != "__pycache__"]
        for name in files:
            full = Path(folder) / name
            try:
                state.append(f"{full.relative_to(ROOT)} {full.stat().st_mtime_ns}")
            except OSError:
                continue
    return state


def _processes_tagged(tag: str) -> list[tuple[int, str]]:
    """Processes whose environment carries ``tag`` (children inherit it, daemons included)."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if tag.encode() in (entry / "environ").read_bytes():
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmd[:120]))
        except OSError:
            continue
    return found


def run_time(path: Path) -> float:
    """Seconds to run ``path`` top to bottom; the file itself is left untouched."""
    path = Path(path).resolve()
    return _run(nbformat.read(path, as_version=4), path.parent)


def bench(out=sys.stdout) -> int:
    """Measure the budgets of DESIGN.md §6 and print them as a table. Returns an exit code."""
    import statistics

    rows = []
    times = {}
    for nb in chapters():
        times[nb] = run_time(nb)
        rows.append((f"run {nb.relative_to(NOTEBOOKS)}", times[nb], 20.0))
    total = sum(times.values())
    rows.append(("median notebook run", statistics.median(times.values()) if times else 0, 6.0))
    with tempfile.TemporaryDirectory() as tmp:
        build = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output",
                 tmp, "-W", "--keep-going", "-q"]
        start = time.perf_counter()
        subprocess.run(build, check=True, env=embedded_env(), stdout=subprocess.DEVNULL)
        clean = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(build, check=True, env=embedded_env(), stdout=subprocess.DEVNULL)
        noop = time.perf_counter() - start
    rows.append(("clean book build", clean, 1.3 * total + 30))
    rows.append(("no-op book rebuild", noop, 10.0))
    failed = 0
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure':<{width}} {'seconds':>8} {'budget':>8}  verdict", file=out)
    for label, seconds, budget in rows:
        ok = seconds <= budget
        failed += not ok
        print(f"{label:<{width}} {seconds:8.1f} {budget:8.1f}  {'ok' if ok else 'OVER'}", file=out)
    report = ROOT / "_build" / "bench.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps([{"measure": r[0], "seconds": r[1], "budget": r[2]} for r in rows], indent=1))
    return 1 if failed else 0
