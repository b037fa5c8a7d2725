"""Command-line tools that ship inside the pinned Python packages (actionlint, hadolint, ...)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def tool(name: str) -> str:
    """The path of ``name`` from this environment's ``bin/`` (where pip put it), else from PATH.

    A kernel started without activating the venv still finds the venv's tools this way.
    """
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"`{name}` is not installed in {Path(sys.executable).parent} nor on PATH; "
                                "run `make venv` (it is pinned in requirements.txt)")
    return found
