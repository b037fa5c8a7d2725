"""Project-level checks: deploy settings, migrations, the OpenAPI schema, and fuzzing the API."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

CAPSTONE = Path(__file__).resolve().parents[3]


def manage(*args, settings="config.settings.test", env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    full_env.update(env or {}, DJANGO_SETTINGS_MODULE=settings)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=CAPSTONE, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", settings="config.settings.production",
                    env={"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "polls.example.org",
                         "REDIS_URL": "redis://127.0.0.1:6379/0"})  # check does not connect
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret():
    result = manage("check", settings="config.settings.production",
                    env={"DJANGO_ALLOWED_HOSTS": "x", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_a_per_process_cache():
    result = manage("check", settings="config.settings.production",
                    env={"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "x",
                         "REDIS_URL": ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL is not set" in result.stderr


def test_migrations_match_the_models():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text()
    for path in ("/api/v1/polls/{poll_id}/vote/", "/api/v1/polls/{poll_id}/results/", "/api/v1/auth/token/"):
        assert path in text


@pytest.mark.django_db
def test_docs_are_public(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/redoc/").status_code == 200
