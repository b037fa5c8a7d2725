import pytest

from pollsystem.users.models import User
from pollsystem.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_register_then_log_in(api_client):
    created = api_client.post("/api/v1/auth/register/", {"username": "ada", "password": PASSWORD})
    assert created.status_code == 201 and created.json()["username"] == "ada"
    assert User.objects.get(username="ada").check_password(PASSWORD)
    tokens = api_client.post("/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}).json()
    assert set(tokens) == {"access", "refresh"}


@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_weak_passwords_are_refused(api_client, password):
    response = api_client.post("/api/v1/auth/register/", {"username": "bob", "password": password})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert not User.objects.filter(username="bob").exists()


def test_a_taken_username_is_a_validation_error(api_client):
    UserFactory(username="carol")
    response = api_client.post("/api/v1/auth/register/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 400 and "username" in response.json()["error"]["details"]


def test_wrong_password_is_401_in_the_error_shape(api_client):
    UserFactory(username="dan")
    response = api_client.post("/api/v1/auth/token/", {"username": "dan", "password": "nope-nope-nope"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "no_active_account"


def test_refresh_tokens_rotate_and_a_used_one_is_refused(api_client):
    UserFactory(username="erin")
    tokens = api_client.post("/api/v1/auth/token/", {"username": "erin", "password": PASSWORD}).json()
    rotated = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert rotated.status_code == 200 and rotated.json()["refresh"] != tokens["refresh"]
    replay = api_client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "token_not_valid"
