"""The test suite: fast hashing, generous throttles unless a test narrows them."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, REST_FRAMEWORK, env

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so the threaded race tests see one database through many connections.
    name = f"pollsystem-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), name)}

SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-test-only-not-for-any-deployment")
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"vote": "1000/min", "auth": "1000/min"}}
LOGGING_CONFIG = None  # tests read log records directly; no console noise
CELERY_TASK_ALWAYS_EAGER = True  # tasks run inline in tests; /readyz still checks a configured broker
