"""The book builds with zero warnings (Sphinx -W), executing every notebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nexus.notebooks import ROOT, embedded_env

pytestmark = pytest.mark.slow


def test_book_builds_without_warnings():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going"],
        capture_output=True, text=True, env=embedded_env(), timeout=1200,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert (ROOT / "_build" / "html" / "index.html").exists()
    # Sphinx warnings look like "path: WARNING: ..."; ipykernel's "[IPKernelApp] WARNING | Kernel
    # is running over TCP" notice at each kernel start is not one of them.
    warnings = [line for line in log.splitlines() if "WARNING:" in line]
    assert not warnings, "\n".join(warnings)
