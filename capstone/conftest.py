import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def auth_client(user):
    return client_for(user)


@pytest.fixture
def poll(db):
    return PollFactory()


@pytest.fixture
def assert_max_selects():
    """Like django_assert_max_num_queries, counting only SELECTs: a request's transaction adds
    SAVEPOINT/RELEASE statements inside a test (ATOMIC_REQUESTS), which are not data queries."""
    from contextlib import contextmanager

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    @contextmanager
    def check(limit: int):
        with CaptureQueriesContext(connection) as ctx:
            yield ctx
        selects = [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        assert len(selects) <= limit, f"{len(selects)} SELECTs, budget {limit}:\n" + "\n".join(selects)

    return check
