"""Every chapter has the same shape, and its stored outputs come from one clean run."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, chapter_params, read

from nexus.notebooks import ROOT, chapters

REQUIRED_SECTIONS = ["Overview", "Prerequisites", "In production", "Exercises", "Summary",
                     "What's next", "Resources"]
# Challenge chapters (DESIGN.md §4b) are debugging sessions: each failure they reproduce gets a
# Symptom, Root cause, Diagnosis and Fix (as sections, or as sub-sections of one per failure).
CHALLENGE_SECTIONS = ["Overview", "Prerequisites", "Lessons learned", "Exercises", "Summary", "Resources"]
CHALLENGE_STEPS = ["Symptom", "Root cause", "Diagnosis", "Fix"]
OUTPUT_BUDGET_BYTES = 600_000  # all outputs of one notebook, images included
SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"(?i)(password|passwd|secret)\s*[=:]\s*['\"]?[A-Za-z0-9/+]{12,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
]
HOME_PATHS = re.compile(r"(/home/[A-Za-z0-9_.-]+|/root/|/Users/[A-Za-z0-9_.-]+|C:\\Users\\)")


def toc_files() -> set[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = {toc["root"]}

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.add(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return {Path(f) for f in found}


def _resolve(entry: Path) -> Path | None:
    for suffix in (".ipynb", ".md"):
        candidate = ROOT / entry.with_suffix(suffix)
        if candidate.exists():
            return candidate
    return None


def test_every_toc_entry_exists():
    missing = [str(e) for e in toc_files() if _resolve(e) is None]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


def test_every_notebook_and_page_is_in_the_toc():
    listed = {_resolve(e) for e in toc_files()}
    pages = sorted((ROOT / "book").glob("*.md"))
    absent = [str(p.relative_to(ROOT)) for p in [*chapters(), *pages] if p not in listed]
    assert not absent, f"not in _toc.yml (the book would skip them): {absent}"


def test_notebook_names_are_numbered_in_reading_order():
    for path in chapters():
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: use NN_snake_case.ipynb"


def _markdown(nb) -> str:
    """The notebook's markdown, without fenced code blocks (a `# comment` there is not a heading)."""
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)


def _headings(nb, level: int) -> list[str]:
    marks = "#" * level
    return re.findall(rf"^{marks} (.+?)\s*$", _markdown(nb), flags=re.M)


def check_anatomy(nb, name: str, *, challenge: bool = False) -> None:
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: must open with an H1 title"
    assert len(_headings(nb, 1)) == 1, f"{name}: exactly one H1"
    sections = _headings(nb, 2)
    if challenge:
        body = _markdown(nb).split("## Prerequisites", 1)[-1].split("## Lessons learned", 1)[0]
        steps = re.findall(r"^#{2,4} (.+?)\s*$", body, flags=re.M)
        for step in CHALLENGE_STEPS:
            assert any(h == step or h.startswith(step + ":") or h.startswith(step + " ") for h in steps), \
                f"{name}: a challenge needs a '{step}' section (or sub-section) before Lessons learned"
    positions = []
    for wanted in (CHALLENGE_SECTIONS if challenge else REQUIRED_SECTIONS):
        assert wanted in sections, f"{name}: missing '## {wanted}' section"
        positions.append(sections.index(wanted))
    assert positions == sorted(positions), f"{name}: sections out of order; expected {REQUIRED_SECTIONS}"
    text = _markdown(nb)
    assert re.search(r"\|\s*Concepts\s*\|\s*Importance\s*\|\s*Notes\s*\|", text), \
        f"{name}: Prerequisites needs the 'Concepts | Importance | Notes' table"
    assert re.search(r"(?i)time to learn", text), f"{name}: state the time to learn"
    assert re.search(r"(?i)services", text) and "none required" in text.lower(), \
        f"{name}: state the services used ('none required', plus the real-service mode)"
    objectives = re.search(r"## Overview(.+?)\n## ", text, flags=re.S).group(1)
    n_objectives = len(re.findall(r"^\s*(?:[-*]|\d+\.) ", objectives, flags=re.M))
    assert 3 <= n_objectives <= 6, f"{name}: Overview needs 3-6 learning objectives (found {n_objectives})"


@pytest.mark.parametrize("path", chapter_params())
def test_chapter_anatomy(path):
    check_anatomy(read(path), path.name, challenge="challenges" in path.parts)


def test_template_has_the_anatomy():
    check_anatomy(read(TEMPLATE), TEMPLATE.name)


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", chapter_params())
def test_parameters_cell_and_small_parameter_set(path):
    nb = read(path)
    params = [c for c in nb.cells if "parameters" in _tags(c)]
    assert len(params) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    names = set(re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", params[0].source, flags=re.M))
    assert names, f"{path.name}: the parameters cell defines no UPPER_CASE parameters"
    small = nb.metadata.get("nexus", {}).get("small_parameters")
    assert isinstance(small, dict) and small, f"{path.name}: metadata.nexus.small_parameters is missing"
    assert set(small) <= names, f"{path.name}: small_parameters names unknown parameters {set(small) - names}"


def _exercise_cells(nb):
    """The cells from '## Exercises' up to '## Summary'."""
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source)
    end = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Summary" in c.source)
    return nb.cells[start:end]


@pytest.mark.parametrize("path", chapter_params())
def test_exercises_have_hints_hidden_solutions_and_checks(path):
    nb = read(path)
    cells = _exercise_cells(nb)
    hints = sum(c.source.count("<details") for c in cells if c.cell_type == "markdown")
    hidden = [c for c in cells if c.cell_type == "code" and "hide-input" in _tags(c)
              and c.metadata.get("jupyter", {}).get("source_hidden")]
    checks = [c for c in cells if c.cell_type == "code" and re.search(r"\b(a?check|check_prediction)\(", c.source)]
    stubs = [c for c in cells if c.cell_type == "code" and "NotImplementedError" in c.source]
    assert hints >= 2, f"{path.name}: at least 2 hints (<details> blocks) in Exercises"
    assert len(hidden) >= 2, f"{path.name}: at least 2 hidden reference solutions (hide-input + source_hidden)"
    assert len(checks) >= 2, f"{path.name}: at least 2 self-check cells calling check()/acheck()"
    assert len(stubs) >= 2, f"{path.name}: at least 2 exercise stubs that raise NotImplementedError"


@pytest.mark.parametrize("path", chapter_params())
def test_stored_outputs_come_from_one_clean_run(path):
    nb = read(path)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), \
        f"{path.name}: execution counts {counts} are not 1..n; run `make execute NB={path.relative_to(ROOT)}`"
    for cell in code:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            assert "raises-exception" in _tags(cell), \
                f"{path.name}: cell {cell.execution_count} stored an error but is not tagged raises-exception"


@pytest.mark.parametrize("path", chapter_params())
def test_workspace_is_opened_and_closed(path):
    source = "\n".join(c.source for c in read(path).cells if c.cell_type == "code")
    assert "Workspace(" in source, f"{path.name}: create a nexus.Workspace (it checks the services)"
    assert re.search(r"\bws\.close\(\)", source), f"{path.name}: close the workspace at the end"


def _output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") if isinstance(out.get("text", ""), str) else "")
            for key, value in out.get("data", {}).items():
                if key.startswith("text/") or key == "application/json":
                    parts.append(value if isinstance(value, str) else str(value))
            parts.extend(out.get("traceback", []))
    return "\n".join(parts)


@pytest.mark.parametrize("path", chapter_params())
def test_outputs_leak_no_home_paths_hostnames_or_secrets(path):
    text = _output_text(read(path))
    assert not HOME_PATHS.search(text), f"{path.name}: an output shows a home path: {HOME_PATHS.search(text)[0]}"
    host = socket.gethostname()
    if len(host) > 3:
        assert host not in text, f"{path.name}: an output shows this machine's hostname"
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{path.name}: an output looks like a secret ({pattern.pattern})"


@pytest.mark.parametrize("path", chapter_params())
def test_output_size_within_budget(path):
    nb = read(path)
    size = sum(len(str(out)) for c in nb.cells for out in c.get("outputs", []))
    assert size <= OUTPUT_BUDGET_BYTES, f"{path.name}: outputs are {size:,} bytes (budget {OUTPUT_BUDGET_BYTES:,})"


@pytest.mark.parametrize("path", chapter_params())
def test_every_figure_has_alt_text_and_a_caption(path):
    missing = []
    for cell in read(path).cells:
        if cell.cell_type != "code" or not any("image/png" in out.get("data", {}) for out in cell.outputs):
            continue
        mystnb = cell.metadata.get("mystnb", {})
        alt = mystnb.get("image", {}).get("alt", "")
        caption = mystnb.get("figure", {}).get("caption", "")
        if len(alt) < 40 or not caption:
            missing.append(cell.source.splitlines()[0][:60] if cell.source else "(empty cell)")
    assert not missing, (f"{path.name}: plots need metadata mystnb.image.alt (one sentence: what it shows and "
                         f"the asserted bound) and mystnb.figure.caption: {missing}")


@pytest.mark.parametrize("path", chapter_params())
def test_reference_solutions_share_one_header(path):
    hidden = [c for c in read(path).cells if c.cell_type == "code" and "hide-input" in _tags(c)
              and c.metadata.get("jupyter", {}).get("source_hidden")]
    wrong = [c.source.splitlines()[0][:60] for c in hidden
             if not c.source.startswith(("# Reference solution", "# The self-check machinery"))]
    assert not wrong, (f"{path.name}: hidden cells start with '# Reference solution' (or '# The self-check "
                       f"machinery' for a check's own code): {wrong}")


@pytest.mark.parametrize("path", chapter_params())
def test_exercises_include_a_predict_run_explain(path):
    """DESIGN.md §3: the reader records a prediction, runs, and check_prediction compares."""
    nb = read(path)
    cells = _exercise_cells(nb)
    assert any(c.cell_type == "code" and "check_prediction(" in c.source for c in cells), \
        f"{path.name}: no predict-run-explain exercise (a self-check calling nexus.check_prediction)"
    assert any(c.cell_type == "markdown" and re.search(r"(?i)predict", c.source) for c in cells), \
        f"{path.name}: the exercise text should ask the reader to predict before running"
