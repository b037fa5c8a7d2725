"""One pinned environment everywhere; CI files that validate; Binder picks what we pin."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import pytest
import yaml

from nexus.notebooks import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def requirement_lines() -> list[str]:
    lines = []
    for raw in (ROOT / "requirements.txt").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_every_requirement_is_pinned():
    loose = [line for line in requirement_lines() if line != "-e ." and not PIN.match(line)]
    assert not loose, f"pin these with ==: {loose}"
    assert "-e ." in requirement_lines(), "requirements.txt must install the nexus package (-e .)"


def test_installed_versions_match_the_pins():
    wrong = []
    for line in requirement_lines():
        match = PIN.match(line)
        if not match:
            continue
        name, pinned = re.sub(r"\[.*\]", "", match.group(1)), match.group(2)
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed")
            continue
        if installed != pinned:
            wrong.append(f"{name}: installed {installed}, pinned {pinned}")
    assert not wrong, "the environment drifted from requirements.txt (run make venv): " + "; ".join(wrong)


def test_environment_yml_installs_python_311_and_the_pinned_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-r requirements.txt"]], "pip section must be exactly '-r requirements.txt'"
    conda_packages = [d for d in deps if isinstance(d, str)]
    assert set(conda_packages) <= {"python=3.11", "pip"}, \
        f"conda packages would bypass the pins: {set(conda_packages) - {'python=3.11', 'pip'}}"


def test_python_is_311():
    assert sys.version_info[:2] == (3, 11)


def test_django_is_the_52_lts():
    assert version("Django").startswith("5.2.")


def test_one_graphql_library():
    with pytest.raises(PackageNotFoundError):
        version("graphene")


def test_github_workflows_validate_offline():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows, "no workflows found"
    tool = shutil.which("check-jsonschema", path=str(ROOT / ".venv" / "bin")) or shutil.which("check-jsonschema")
    result = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^\s*make test\b", ci, flags=re.M), ".ci/run must call the README's `make test`"


def test_binder_builds_python_311_with_the_pins():
    tool = shutil.which("repo2docker", path=str(ROOT / ".venv" / "bin")) or shutil.which("repo2docker")
    if tool is None:
        pytest.skip("jupyter-repo2docker is not installed")
    result = subprocess.run([tool, "--no-build", "--debug", str(ROOT)], capture_output=True, text=True,
                            timeout=300)
    dockerfile = result.stdout + result.stderr
    assert result.returncode == 0, dockerfile[-3000:]
    assert "environment.yml" in dockerfile, "repo2docker did not pick environment.yml"
    assert re.search(r"python[=-]3\.11", dockerfile), "repo2docker did not pick Python 3.11"
