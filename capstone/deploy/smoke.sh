#!/usr/bin/env bash
# Build the production image for real and prove it works, with no registry and no network:
#   BUILDER=buildah BASE_IMAGE=localhost/nexus-python:3.11 bash deploy/smoke.sh
# 1. builds compose/production/django/Dockerfile with buildah (vfs storage, chroot isolation:
#    what works in an unprivileged sandbox), installing only wheels built here first (WHEELS=);
# 2. runs `manage.py check --deploy --fail-level WARNING` in it, with production settings and
#    freshly generated secrets;
# 3. runs the test suite in a container of the image (SQLite, eager Celery) after adding the
#    test requirements to that container only (the image itself stays as shipped);
# 4. starts gunicorn through the image's entrypoint and start script on loopback, fetches
#    /healthz, and runs the image's own HEALTHCHECK command against it;
# 5. prints the build time and the image size, and removes every container and image it made.
# Environment: BUILDER (only buildah is supported here), BASE_IMAGE (any Python 3.11 image in
# local storage), PYTHON (a host Python with pip, to fetch the wheels; default ../.venv/bin/python
# or python3), STORAGE_DRIVER (default vfs), SMOKE_PORT (default: a free port), SMOKE_REDIS_URL
# (the Redis that production settings require; default redis://127.0.0.1:6379/3).
set -euo pipefail

die() { echo "smoke: $*" >&2; exit 1; }
say() { echo "smoke: $*"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # capstone/
BUILDER=${BUILDER:-buildah}
BASE_IMAGE=${BASE_IMAGE:-localhost/nexus-python:3.11}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$here/../.venv/bin/python" ]; then PYTHON="$here/../.venv/bin/python"; else PYTHON=python3; fi
fi

# -- fail fast, with the fix in the message -------------------------------------------------
[ "$BUILDER" = buildah ] || die "BUILDER=$BUILDER is not supported by this script; use BUILDER=buildah \
(readers with Docker: docker build -f compose/production/django/Dockerfile . from capstone/)"
command -v buildah >/dev/null 2>&1 || die "buildah is not installed (Debian: apt-get install buildah)"
B=(buildah --storage-driver "$STORAGE_DRIVER")
"${B[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1 \
    || die "base image $BASE_IMAGE is not in buildah's $STORAGE_DRIVER storage; build it with \
'bash .ci/base-image' (from the book's root) or set BASE_IMAGE to a local Python 3.11 image"
command -v curl >/dev/null 2>&1 || die "curl is not installed (Debian: apt-get install curl)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "PYTHON=$PYTHON has no pip (set PYTHON to a Python with pip)"
SMOKE_REDIS_URL=${SMOKE_REDIS_URL:-redis://127.0.0.1:6379/3}
"$PYTHON" - "$SMOKE_REDIS_URL" <<'PY' || die "SMOKE_REDIS_URL=$SMOKE_REDIS_URL does not answer; start Redis \
(production settings refuse to run without one) or point SMOKE_REDIS_URL at a reachable Redis"
import socket, sys
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=2).close()
PY

run_id="pollsystem-smoke-$$"
tag="localhost/$run_id:latest"
work=$(mktemp -d "${TMPDIR:-/tmp}/$run_id.XXXXXX")
containers=()
server_pid=""
cleanup() {
    status=$?
    if [ -n "$server_pid" ]; then kill -TERM -- "-$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    for c in "${containers[@]}"; do
        "${B[@]}" rm "$c" >/dev/null 2>&1 || echo "smoke: could not remove container $c" >&2
    done
    if "${B[@]}" inspect --type image "$tag" >/dev/null 2>&1; then
        "${B[@]}" rmi "$tag" >/dev/null || echo "smoke: could not remove image $tag" >&2
    fi
    rm -rf "$work"
    [ "$status" -eq 0 ] && say "PASS" || echo "smoke: FAILED (exit $status)" >&2
}
trap cleanup EXIT

secret() { "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))'; }

# -- 1. the build ---------------------------------------------------------------------------
# The context is a copy of capstone/ plus .wheels/: the build has no index to reach.
mkdir "$work/context"
tar -C "$here" --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache --exclude=.hypothesis \
    --exclude=staticfiles --exclude=db.sqlite3 --exclude=.env -cf - . | tar -C "$work/context" -xf -
say "fetching wheels for requirements-test.txt with $PYTHON -m pip"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$here/requirements-test.txt" -w "$work/context/.wheels" 2> >(grep -v "is ignored" >&2)
# pip skips requirements whose marker is false for the HOST's Python; the base image's Python may
# differ (Debian bookworm's 3.11.2 needs async-timeout for redis), so fetch those wheels as well.
mapfile -t guarded < <(grep -h ';' "$here/requirements.txt" "$here/requirements-test.txt" | grep -v '^[[:space:]]*#' \
    | sed 's/[[:space:]]*;.*//')
if [ "${#guarded[@]}" -gt 0 ]; then
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$work/context/.wheels" "${guarded[@]}" 2> >(grep -v "is ignored" >&2)
fi
say "building $tag from $BASE_IMAGE"
started=$(date +%s.%N)
"${B[@]}" bud --isolation chroot --format docker --pull=false \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg WHEELS=.wheels \
    -f compose/production/django/Dockerfile -t "$tag" "$work/context" > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; die "the image build failed (log above)"; }
build_seconds=$("$PYTHON" -c "print(f'{$(date +%s.%N) - $started:.0f}')")
config=$("${B[@]}" inspect --type image "$tag")
size_bytes=$(printf '%s' "$config" | "$PYTHON" -c 'import json, sys; m = json.loads(json.load(sys.stdin)["Manifest"]); print(sum(l["size"] for l in m["layers"]))')
say "built in ${build_seconds} s; image size $((size_bytes / 1000000)) MB ($size_bytes bytes, uncompressed layers)"
printf '%s' "$config" | "$PYTHON" -c '
import json, sys
c = json.load(sys.stdin)["Docker"]["config"]
user = c.get("User", "")
assert user.split(":")[0] not in ("", "0", "root"), "the image runs as root: User=" + repr(user)
assert c.get("Healthcheck", {}).get("Test"), "the image has no HEALTHCHECK (built in OCI format?)"
assert "8000/tcp" in c.get("ExposedPorts", {}), "port 8000 is not exposed"
print("smoke: user", user, "| entrypoint", c["Entrypoint"], "| cmd", c["Cmd"])'

new_container() {  # not in $(...): the list must grow in this shell, for the cleanup
    containers+=("$1")
    "${B[@]}" from --pull=false --quiet --name "$1" "$tag" >/dev/null
}
ctr="$run_id-app"
new_container "$ctr"
SECRET_KEY=$(secret)

# -- 2. check --deploy with production settings ---------------------------------------------
say "manage.py check --deploy --fail-level WARNING (production settings)"
"${B[@]}" run --isolation chroot \
    --env DJANGO_SECRET_KEY="$SECRET_KEY" --env DJANGO_ALLOWED_HOSTS=pollsystem.example.com \
    --env REDIS_URL="$SMOKE_REDIS_URL" \
    "$ctr" -- python manage.py check --deploy --fail-level WARNING

# -- 3. the test suite, inside a container of the image --------------------------------------
tests="$run_id-tests"
new_container "$tests"
"${B[@]}" copy "$tests" "$work/context/.wheels" /tmp/wheels >/dev/null
"${B[@]}" copy "$tests" "$work/context/requirements.txt" "$work/context/requirements-test.txt" /tmp/ >/dev/null
"${B[@]}" run --isolation chroot --user 0:0 "$tests" -- /opt/venv/bin/pip install --quiet \
    --disable-pip-version-check --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/requirements-test.txt
say "pytest inside the image (SQLite, eager Celery, no browser)"
"${B[@]}" run --isolation chroot \
    --env DJANGO_SETTINGS_MODULE=config.settings.test --env HYPOTHESIS_STORAGE_DIRECTORY=/tmp/hypothesis \
    --env HOME=/tmp "$tests" -- python -m pytest -q -p no:cacheprovider -m "not browser" \
    --ignore=pollsystem/core/tests/test_deploy_files.py

# -- 4. gunicorn on loopback ----------------------------------------------------------------
port=${SMOKE_PORT:-$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
# The database is SQLite in /tmp: the app user cannot write /app (the default SQLite path), and
# every request opens a connection (ATOMIC_REQUESTS), even /healthz.
say "gunicorn (entrypoint + start) on 127.0.0.1:$port"
setsid "${B[@]}" run --isolation chroot --network host \
    --env DJANGO_SECRET_KEY="$SECRET_KEY" --env DJANGO_ALLOWED_HOSTS=127.0.0.1 --env PORT="$port" \
    --env REDIS_URL="$SMOKE_REDIS_URL" \
    --env DATABASE_URL=sqlite:////tmp/pollsystem-smoke.sqlite3 \
    --env WEB_CONCURRENCY=2 "$ctr" -- /usr/local/bin/entrypoint /usr/local/bin/start > "$work/gunicorn.log" 2>&1 &
server_pid=$!
body=""
for _ in $(seq 1 60); do
    body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null) && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$work/gunicorn.log" >&2; die "gunicorn exited before it served /healthz"; }
    sleep 0.5
done
[ "$body" = '{"status": "ok"}' ] || { tail -20 "$work/gunicorn.log" >&2; die "/healthz answered '$body', expected {\"status\": \"ok\"}"; }
say "/healthz -> $body"
ready=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/readyz") || die "/readyz did not answer 200"
say "/readyz -> $ready"
# The image's own HEALTHCHECK command, as Docker would run it inside the container.
healthcheck=$(printf '%s' "$config" | "$PYTHON" -c 'import json, sys; t = json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]; assert t[0] == "CMD", t; print(json.dumps(t[1:]))')
mapfile -t hc < <("$PYTHON" -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$healthcheck")
"${B[@]}" run --isolation chroot --network host --env DJANGO_ALLOWED_HOSTS=127.0.0.1 --env PORT="$port" \
    "$ctr" -- "${hc[@]}" || die "the image's HEALTHCHECK command failed against the running server"
say "HEALTHCHECK command exits 0"
grep -q '"GET /healthz HTTP/1.1" 200' "$work/gunicorn.log" || die "gunicorn's access log lacks the /healthz request"

say "summary: build ${build_seconds} s, image $((size_bytes / 1000000)) MB, check --deploy clean, tests passed, /healthz ok"
