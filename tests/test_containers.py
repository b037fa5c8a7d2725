"""Unit tests for nexus.containers: build contexts (Docker SDK code), hadolint, the build-log
parser, and one real build with buildah when NEXUS_CONTAINER_BUILDER=buildah is set."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import threading
import time

import pytest

from nexus import containers, services
from nexus.containers import Finding, parse_steps

BUILDAH_SET = os.environ.get("NEXUS_CONTAINER_BUILDER", "").strip() == "buildah"


@pytest.fixture
def project(tmp_path):
    """A small context: app code, a .git folder, a .env file, nested byte-code."""
    files = {
        "Dockerfile": "FROM scratch\nCOPY app /app\n",
        "app/main.py": "print('hi')\n",
        "app/__pycache__/main.cpython-311.pyc": "x" * 300,
        "data/seed.csv": "a,b\n1,2\n",
        "data/raw/big.csv": "z" * 5_000,
        ".git/HEAD": "ref: refs/heads/main\n",
        ".git/objects/ab/cdef": "y" * 2_000,
        ".env": "TOKEN=dev-only\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


# -- build context --------------------------------------------------------------------
def test_parse_dockerignore_drops_blank_lines_and_comments():
    assert containers.parse_dockerignore("# c\n\n .git \n*.log\n  # indented comment\n!keep.log\n") == \
        [".git", "*.log", "!keep.log"]


def test_context_without_dockerignore_holds_everything(project):
    report = containers.context_report(project)
    assert report.patterns == []
    on_disk = [p for p in project.rglob("*") if p.is_file()]
    assert report.files == len(on_disk)
    assert report.bytes == sum(p.stat().st_size for p in on_disk)
    assert report.includes(".env") and report.includes(".git") and report.includes("app/main.py")
    assert report.tar_bytes >= report.bytes and report.tar_bytes % 10_240 == 0
    assert report.seconds >= 0
    assert report.by_top_level()["data"] == 5_000 + len("a,b\n1,2\n")
    assert list(report.by_top_level())[0] == "data"  # largest first


def test_dockerignore_file_and_exceptions(project):
    (project / ".dockerignore").write_text(".git\n.env\ndata\n!data/seed.csv\n**/__pycache__\n.dockerignore\n")
    report = containers.context_report(project)
    # like the docker CLI, the SDK always sends .dockerignore and the Dockerfile, even when listed
    assert set(report.members) == {".dockerignore", "Dockerfile", "app/main.py", "data/seed.csv"}
    assert not report.includes(".git") and not report.includes("data/raw")
    assert report.directories == ["app"]  # data/ itself is excluded; only the file inside comes back


def test_dockerignore_argument_overrides_the_file_without_touching_it(project):
    (project / ".dockerignore").write_text("app\n")
    as_text = containers.context_report(project, dockerignore=".git\n.env\n")
    as_list = containers.context_report(project, dockerignore=[".git", ".env"])
    assert as_text.members == as_list.members
    assert as_text.includes("app/main.py") and not as_text.includes(".git")
    assert (project / ".dockerignore").read_text() == "app\n"
    assert not containers.context_report(project).includes("app/main.py")


def test_the_named_dockerfile_is_always_sent(project):
    (project / "Dockerfile.prod").write_text("FROM scratch\n")
    report = containers.context_report(project, "Dockerfile.prod", dockerignore="Dockerfile*\n")
    assert report.includes("Dockerfile.prod") and not report.includes("Dockerfile")


def test_tar_bytes_match_the_sdk_tarball(project):
    from docker.utils.build import tar

    report = containers.context_report(project, dockerignore=[".git"])
    with tar(str(project), exclude=[".git"]) as fileobj:
        size = os.fstat(fileobj.fileno()).st_size
        fileobj.seek(0)
        with tarfile.open(fileobj=fileobj) as archive:
            files = {m.name for m in archive if m.isfile()}
    assert report.tar_bytes == size and set(report.members) == files


def test_str_is_readable(project):
    text = str(containers.context_report(project))
    assert "files" in text and "MB" in text and "tarball" in text


# -- hadolint ---------------------------------------------------------------------------
NAIVE = "FROM python\nMAINTAINER me\nRUN cd /app && pip install flask\nCMD python app.py\n"


def test_hadolint_reports_rule_ids_levels_and_lines():
    findings = containers.hadolint(NAIVE)
    codes = {f.code for f in findings}
    assert {"DL3006", "DL4000", "DL3003", "DL3013", "DL3042", "DL3025"} <= codes
    assert all(isinstance(f, Finding) and f.level in containers.LEVELS for f in findings)
    assert [f.line for f in findings] == sorted(f.line for f in findings)
    assert next(f for f in findings if f.code == "DL3006").line == 1
    assert "DL3006" in str(findings[0])


def test_hadolint_threshold_and_ignore():
    everything = containers.hadolint(NAIVE)
    errors = containers.hadolint(NAIVE, threshold="error")
    assert errors and all(f.level == "error" for f in errors) and len(errors) < len(everything)
    assert "DL3006" not in {f.code for f in containers.hadolint(NAIVE, ignore=("DL3006",))}
    with pytest.raises(ValueError):
        containers.hadolint(NAIVE, threshold="loud")


def test_hadolint_accepts_a_path_and_a_clean_file(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text('ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nUSER 10001\nCMD ["python3"]\n')
    assert containers.hadolint(path) == []
    assert containers.hadolint(str(path)) == []
    path.write_text(NAIVE)
    assert containers.hadolint(path) == containers.hadolint(NAIVE)


def test_hadolint_ignores_the_callers_config_and_environment(tmp_path, monkeypatch):
    (tmp_path / ".hadolint.yaml").write_text("ignored:\n  - DL3006\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HADOLINT_IGNORE", "DL3006")
    assert "DL3006" in {f.code for f in containers.hadolint("FROM python\n")}


# -- build logs and the builder factory ----------------------------------------------------
BUILDAH_LOG = """\
[1/2] STEP 1/3: FROM localhost/base:1 AS build
[1/2] STEP 2/3: COPY requirements.txt /tmp/
--> Using cache 1c5f1e866a0c11bda2abc127d22f7d45b71f44a56c05e3ed98fd0a015164e98d
--> 1c5f1e866a0
[1/2] STEP 3/3: RUN make
building...
--> 2e1680148ba
[2/2] STEP 1/2: FROM localhost/base:1
[2/2] STEP 2/2: COPY --from=build /out /out
[2/2] COMMIT localhost/x:latest
--> 39eeae9e316
Successfully tagged localhost/x:latest
39eeae9e316edfedfab748435b0b5818bdfa68a79f00ebecd24f3228b68a8a97
"""


def test_parse_steps_buildah_multi_stage():
    steps, committed = parse_steps(BUILDAH_LOG)
    assert [(s.stage, s.number, s.cached) for s in steps] == [
        (1, 1, None), (1, 2, True), (1, 3, False), (2, 1, None), (2, 2, False)]
    assert committed == ["2e1680148ba", "39eeae9e316"]


def test_parse_steps_keeps_buildah_stage_numbers_when_a_target_skips_stages():
    log = "[2/2] STEP 1/2: FROM scratch AS base\n[2/2] STEP 2/2: LABEL x=y\n--> Using cache abc\n"
    steps, _ = parse_steps(log)
    assert [(s.stage, s.number, s.cached) for s in steps] == [(2, 1, None), (2, 2, True)]


def test_parse_steps_docker_legacy_and_buildkit():
    legacy = "Step 1/3 : FROM python:3.11-slim\nStep 2/3 : COPY . .\n ---> Using cache\nStep 3/3 : RUN x\n"
    steps, _ = parse_steps(legacy)
    assert [s.cached for s in steps] == [None, True, False]
    buildkit = ("#5 [1/3] FROM docker.io/library/python:3.11-slim\n#6 [2/3] COPY . .\n#6 CACHED\n"
                "#7 [3/3] RUN x\n#7 DONE 0.5s\n")
    steps, _ = parse_steps(buildkit)
    assert [(s.number, s.cached) for s in steps] == [(1, None), (2, True), (3, False)]


def test_builder_is_none_unless_configured(monkeypatch):
    monkeypatch.delenv("NEXUS_CONTAINER_BUILDER", raising=False)
    monkeypatch.delenv("NEXUS_BASE_IMAGE", raising=False)
    assert containers.builder() is None
    assert containers.base_image_name() == services.DEFAULT_BASE_IMAGE
    monkeypatch.setenv("NEXUS_BASE_IMAGE", "localhost/nexus-python:3.11")
    assert containers.base_image_name() == "localhost/nexus-python:3.11"
    monkeypatch.setenv("NEXUS_CONTAINER_BUILDER", "kaniko")
    with pytest.raises(services.ServiceUnavailable):
        containers.builder()


def test_tags_are_private_to_the_run(monkeypatch):
    class FakeWorkspace:
        run_id = "docker_1a2b3c4d"

        def __init__(self, path):
            self.path = path
            self.closers = []

        def on_close(self, fn):
            self.closers.append(fn)

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        ws = FakeWorkspace(Path(tmp))
        b = containers.builder(ws, kind="buildah", base_image="localhost/base:1")
        assert b.tag("App Image") == "localhost/nexus/docker_1a2b3c4d-app-image:latest"
        assert ws.closers == [b.close]
        with pytest.raises(ValueError):
            b.remove("localhost/base:1")
        b.close()


# -- a real build (service mode) -----------------------------------------------------------
@pytest.mark.services
def scratch_working_containers():
    """Names of buildah's working containers made from scratch (what a failed build here leaves)."""
    names = subprocess.run(["buildah", "--storage-driver", "vfs", "containers", "--all", "--format",
                            "{{.ContainerName}}"], capture_output=True, text=True, check=True).stdout.split()
    return {name for name in names if re.fullmatch(r"working-container(-\d+)?", name)}


@pytest.mark.skipif(not BUILDAH_SET, reason="set NEXUS_CONTAINER_BUILDER=buildah to build with buildah")
@pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")
def test_buildah_builds_from_scratch_caches_and_cleans_up(tmp_path):
    from nexus.workspace import Workspace

    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "Dockerfile").write_text('FROM scratch\nCOPY a.txt /a.txt\nCMD ["/a"]\n')
    (tmp_path / "Dockerfile.broken").write_text("FROM scratch\nCOPY missing.txt /m\n")
    ws = Workspace("containers test", check_services=False)
    try:
        b = containers.builder(ws, kind="buildah")
        tag = b.tag("scratch")
        first = b.build(tmp_path, tag)
        assert first.ok and first.image_id.startswith("sha256:") and first.rebuilt == ["COPY a.txt /a.txt", 'CMD ["/a"]']
        again = b.build(tmp_path, tag)
        assert again.cached == ["COPY a.txt /a.txt", 'CMD ["/a"]'] and again.rebuilt == []
        (tmp_path / "a.txt").write_text("two\n")
        changed = b.build(tmp_path, tag)
        assert changed.rebuilt == ["COPY a.txt /a.txt", 'CMD ["/a"]']
        assert 0 < b.size(tag) < 10_000
        assert b.inspect(tag)["Cmd"] == ["/a"]
        assert b.digest(tag).startswith("sha256:")
        before = scratch_working_containers()
        broken = b.build(tmp_path, b.tag("broken"), dockerfile="Dockerfile.broken", check=False)
        assert not broken.ok and "missing.txt" in broken.log
        with pytest.raises(containers.BuildFailed):
            b.build(tmp_path, b.tag("broken"), dockerfile="Dockerfile.broken")
        assert scratch_working_containers() <= before, "a failed build left its working container"
    finally:
        ws.close()
    listing = subprocess.run(["buildah", "--storage-driver", "vfs", "images", "--all", "--no-trunc",
                              "--format", "{{.ID}} {{.Name}}"], capture_output=True, text=True).stdout
    assert ws.run_id not in listing
    for result in (first, changed):
        assert result.image_id.removeprefix("sha256:") not in listing  # old builds of a moved tag too


def test_builds_and_removals_take_turns_on_the_image_store():
    from nexus.containers import _image_store_lock

    events = []

    def hold(name, seconds):
        with _image_store_lock():
            events.append(f"{name} in")
            time.sleep(seconds)
            events.append(f"{name} out")

    first = threading.Thread(target=hold, args=("first", 0.3))
    first.start()
    while not events:
        time.sleep(0.01)
    second = threading.Thread(target=hold, args=("second", 0))
    second.start()
    first.join()
    second.join()
    assert events == ["first in", "first out", "second in", "second out"]
