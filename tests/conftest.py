"""Shared test helpers: where things are, and which notebooks exist."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import nbformat
import pytest

from nexus.notebooks import ROOT, chapters

TEMPLATE = ROOT / "notebooks" / "_template" / "chapter_template.ipynb"


def chapter_params():
    """One pytest param per chapter notebook, with a readable id; NB=path narrows it to one."""
    only = os.environ.get("NB")
    paths = chapters()
    if only:
        paths = [p for p in paths if p.resolve() == Path(only).resolve()]
        if not paths:
            raise pytest.UsageError(f"NB={only} is not a chapter under {ROOT / 'notebooks'} (wrong path, or "
                                    "the nexus package in this venv points at another checkout)")
    return [pytest.param(p, id=str(p.relative_to(ROOT / "notebooks"))) for p in paths]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
