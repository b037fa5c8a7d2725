"""Settings for the load test's gunicorn servers: production-like, but plain HTTP on loopback.

Production settings redirect to HTTPS and want real hosts; the load test talks HTTP to
127.0.0.1. Everything else comes from base settings, so the servers run the same code paths.
`loadtest.run` generates a fresh secret key per run and sets DATABASE_URL.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import REST_FRAMEWORK, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")  # generated per run by loadtest.run; never stored
ALLOWED_HOSTS = ["127.0.0.1"]

# Every vote comes from a different user, but all from one address: throttles out of the way.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"vote": "1000000/min", "auth": "1000000/min"}}

# The "uncached" server: every cache read misses, so each results request runs its queries.
if env.bool("LOADTEST_NO_CACHE", default=False):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
