"""Django inside a notebook, solved once.

Four things go wrong when Django runs in a Jupyter kernel, and ``setup()`` handles each:

1. ipykernel runs cells inside an event loop, so the ORM refuses to run
   (``SynchronousOnlyOperation``) unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set.
2. ``settings.configure()`` and ``django.setup()`` may run only once per process, so a
   second Run-All must reuse them and only swap the database.
3. Models defined in a cell need an ``app_label`` of an installed app. ``setup()`` creates an
   empty package for each label in the workspace, so the label is a real app, and
   ``reset_models()`` forgets the previous run's classes before a cell defines them again.
4. A plain ``:memory:`` SQLite database belongs to one connection, so threads see no tables.
   Every run gets a throwaway *test database* (``create_test_db``): a file in the
   workspace on SQLite, ``test_nexus_<run id>`` on MariaDB, destroyed when the workspace closes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nexus import services

BASE_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]

_state: dict = {"apps": None}


def _database_settings(ws) -> dict:
    url = services.configured("database")
    if url is None:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(ws.path / "django.sqlite"),
            "TEST": {"NAME": str(ws.path / "django-test.sqlite")},
        }
    import pymysql
    import sqlalchemy as sa

    pymysql.install_as_MySQLdb()  # Django's MySQL backend through the pure-Python driver
    u = sa.make_url(url)
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": u.database or "test",
        "USER": u.username or "root",
        "PASSWORD": u.password or "",
        "HOST": u.host or "127.0.0.1",
        "PORT": str(u.port or 3306),
        "OPTIONS": {"charset": "utf8mb4", "connect_timeout": 3},
        "TEST": {"NAME": f"test_nexus_{ws.run_id}", "CHARSET": "utf8mb4"},
    }


def _make_app_packages(ws, labels) -> None:
    root = Path(ws.path) / "django_apps"
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / "__init__.py").touch()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def setup(ws, *, apps=("nexus_app",), installed_apps=(), middleware=None, **settings_overrides):
    """Configure Django for this notebook run and give it a fresh test database.

    ``apps`` are labels for models defined in notebook cells (``Meta.app_label``).
    ``installed_apps`` are extra real apps (``"rest_framework"``, ...). Any other keyword
    becomes a setting. Call it again in the same kernel (a second Run-All) and it keeps
    the configuration, destroys the previous test database and creates a new one.
    Returns ``django.conf.settings``.
    """
    import django
    from django.conf import settings

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    apps = tuple(apps)
    if settings.configured:
        if _state["apps"] != (apps, tuple(installed_apps)):
            raise RuntimeError(
                "Django is already configured in this kernel with other apps "
                f"{_state['apps']}; restart the kernel to change INSTALLED_APPS."
            )
        _teardown_previous()
        _make_app_packages(ws, apps)
        from django.db import connection

        connection.close()
        connection.settings_dict["TEST"].update(_database_settings(ws)["TEST"])
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = _database_settings(ws)["NAME"]
        if middleware is not None:
            settings.MIDDLEWARE = middleware
        for key, value in settings_overrides.items():
            setattr(settings, key, value)
    else:
        _make_app_packages(ws, apps)
        settings.configure(
            DEBUG=False,
            SECRET_KEY="dev-only-" + os.urandom(16).hex(),  # generated per run; never a real secret
            ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
            DATABASES={"default": _database_settings(ws)},
            INSTALLED_APPS=[*BASE_APPS, *installed_apps, *apps],
            MIDDLEWARE=middleware if middleware is not None else [
                "django.middleware.security.SecurityMiddleware",
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
            ],
            ROOT_URLCONF=__name__,
            USE_TZ=True,
            TIME_ZONE="UTC",
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast; demo only
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                        "APP_DIRS": True, "OPTIONS": {}}],
            LOGGING_CONFIG=None,
            **settings_overrides,
        )
        django.setup()
        _state["apps"] = (apps, tuple(installed_apps))
        import django.test.utils

        django.test.utils.setup_test_environment()

    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    _state["teardown"] = (connection, old_name)
    ws.on_close(_teardown_previous)
    return settings


def _teardown_previous() -> None:
    pending = _state.pop("teardown", None)
    if pending is None:
        return
    connection, old_name = pending
    connection.close()
    connection.creation.destroy_test_db(old_name, verbosity=0)


def reset_models(app_label: str = "nexus_app") -> None:
    """Forget the model classes a previous run of a cell registered under ``app_label``."""
    from django.apps import apps

    apps.all_models[app_label].clear()
    apps.clear_cache()


def create_tables(*models) -> None:
    """Create the tables of models defined in a notebook (what ``migrate`` would do)."""
    from django.db import connection

    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(model)


urlpatterns: list = []


def use_urls(patterns) -> None:
    """Serve ``patterns`` as the site's URLconf (the notebook defines its own routes)."""
    from django.urls import clear_url_caches

    urlpatterns[:] = list(patterns)
    clear_url_caches()
