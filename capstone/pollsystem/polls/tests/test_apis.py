from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from conftest import client_for
from pollsystem.polls.models import Option, Vote
from pollsystem.polls.tests.factories import PollFactory
from pollsystem.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POLLS = "/api/v1/polls/"


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]


class TestListAndCreate:
    def test_the_list_is_public_paginated_and_newest_first(self, api_client):
        polls = [PollFactory(created_at=timezone.now() - timedelta(minutes=i)) for i in range(3)]
        body = api_client.get(POLLS, {"page_size": 2}).json()
        assert body["count"] == 3 and body["next"] is not None
        assert [p["id"] for p in body["results"]] == [polls[0].pk, polls[1].pk]
        assert [o["text"] for o in body["results"][0]["options"]] == ["Yes", "No", "Maybe"]

    @pytest.mark.parametrize("n_polls", [1, 10, 40])
    def test_the_list_costs_three_queries_whatever_its_size(self, api_client, n_polls, assert_max_selects):
        for _ in range(n_polls):
            PollFactory(options=[f"option {i}" for i in range(6)])
        with assert_max_selects(3):  # count, page with creators, options
            response = api_client.get(POLLS, {"page_size": 50})
        assert len(response.json()["results"]) == n_polls

    def test_filters_open_closed_and_mine(self, user):
        mine = PollFactory(created_by=user)
        closed = PollFactory()
        closed.closed_at = closed.created_at + timedelta(minutes=5)
        closed.save()
        client = client_for(user)
        ids = lambda **q: [p["id"] for p in client.get(POLLS, q).json()["results"]]  # noqa: E731
        assert ids(status="open") == [mine.pk]
        assert ids(status="closed") == [closed.pk]
        assert ids(mine="true") == [mine.pk]

    def test_creating_needs_a_token(self, api_client):
        response = api_client.post(POLLS, {"question": "Q?", "options": ["a", "b"],
                                           "expires_at": (timezone.now() + timedelta(days=1)).isoformat()})
        assert response.status_code == 401 and error_code(response) == "not_authenticated"

    def test_create(self, auth_client, user):
        response = auth_client.post(POLLS, {"question": "Tea or coffee?", "options": ["Tea", "Coffee"],
                                            "expires_at": (timezone.now() + timedelta(days=1)).isoformat()})
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["created_by"] == user.username and body["is_open"] is True
        assert [o["text"] for o in body["options"]] == ["Tea", "Coffee"]

    def test_validation_errors_share_the_error_shape(self, auth_client):
        response = auth_client.post(POLLS, {"question": "", "options": ["only"]})
        assert response.status_code == 400 and error_code(response) == "validation_error"
        assert {"question", "options", "expires_at"} <= set(response.json()["error"]["details"])
        same = auth_client.post(POLLS, {"question": "Q?", "options": ["a", "A"],
                                        "expires_at": (timezone.now() + timedelta(days=1)).isoformat()})
        assert same.status_code == 400 and error_code(same) == "validation_error"
        assert "options" in same.json()["error"]["details"]


class TestVote:
    def test_vote_then_conflict(self, poll, auth_client):
        option = poll.options.first()
        first = auth_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": option.pk})
        assert first.status_code == 201 and first.json()["option_id"] == option.pk
        again = auth_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": option.pk})
        assert again.status_code == 409 and error_code(again) == "already_voted"

    def test_the_voter_is_the_token_not_anything_the_client_sends(self, poll, user, auth_client):
        victim = UserFactory()
        response = auth_client.post(f"{POLLS}{poll.pk}/vote/",
                                    {"option_id": poll.options.first().pk, "user_id": victim.pk,
                                     "voter_id": victim.pk}, HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert response.status_code == 201
        assert list(Vote.objects.values_list("user_id", flat=True)) == [user.pk]

    def test_anonymous_votes_are_refused(self, poll, api_client):
        response = api_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": poll.options.first().pk})
        assert response.status_code == 401 and error_code(response) == "not_authenticated"

    def test_a_bad_token_is_refused(self, poll, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
        response = api_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": poll.options.first().pk})
        assert response.status_code == 401 and error_code(response) == "token_not_valid"
        assert response.json()["error"]["message"] == "Given token not valid for any token type"

    def test_unknown_poll_is_404(self, auth_client):
        response = auth_client.post(f"{POLLS}999999/vote/", {"option_id": 1})
        assert response.status_code == 404 and error_code(response) == "not_found"

    def test_an_expired_poll_is_409(self, poll, auth_client):
        poll.expires_at = timezone.now() - timedelta(seconds=1)
        poll.created_at = poll.expires_at - timedelta(days=1)
        poll.save()
        response = auth_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": poll.options.first().pk})
        assert response.status_code == 409 and error_code(response) == "poll_closed"

    @pytest.mark.django_db(transaction=True)  # DRF marks an enclosing atomic block for rollback on a 429
    def test_voting_is_throttled_with_the_error_shape(self, monkeypatch, auth_client):
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"vote": "2/min", "auth": "100/min"})
        polls = [PollFactory() for _ in range(3)]
        codes = [auth_client.post(f"{POLLS}{p.pk}/vote/", {"option_id": p.options.first().pk}).status_code
                 for p in polls]
        assert codes == [201, 201, 429]
        response = auth_client.post(f"{POLLS}{polls[2].pk}/vote/", {"option_id": polls[2].options.first().pk})
        assert error_code(response) == "throttled"
        assert response.json()["error"]["details"]["retry_after_seconds"] > 0


class TestResults:
    @pytest.mark.parametrize("n_options", [2, 20])
    def test_results_are_exact_and_cost_a_fixed_number_of_queries(self, api_client, n_options,
                                                                   assert_max_selects):
        poll = PollFactory(options=[f"option {i}" for i in range(n_options)])
        options = list(poll.options.all())
        for i in range(5):
            client_for(UserFactory()).post(f"{POLLS}{poll.pk}/vote/", {"option_id": options[i % 2].pk})
        with assert_max_selects(2):  # the poll and its options, whatever their number
            body = api_client.get(f"{POLLS}{poll.pk}/results/").json()
        with assert_max_selects(0):  # then from the cache
            assert api_client.get(f"{POLLS}{poll.pk}/results/").json() == body
        assert body["total_votes"] == 5 and len(body["options"]) == n_options
        assert [o["votes"] for o in body["options"][:2]] == [3, 2]

    def test_results_follow_a_vote(self, poll, auth_client, api_client, django_capture_on_commit_callbacks):
        assert api_client.get(f"{POLLS}{poll.pk}/results/").json()["total_votes"] == 0
        with django_capture_on_commit_callbacks(execute=True):
            auth_client.post(f"{POLLS}{poll.pk}/vote/", {"option_id": poll.options.first().pk})
        assert api_client.get(f"{POLLS}{poll.pk}/results/").json()["total_votes"] == 1


class TestEditAndClose:
    def test_only_the_creator_edits(self, poll, auth_client):
        response = auth_client.patch(f"{POLLS}{poll.pk}/", {"question": "Mine now?"})
        assert response.status_code == 403 and error_code(response) == "permission_denied"
        response = auth_client.post(f"{POLLS}{poll.pk}/close/")
        assert response.status_code == 403 and error_code(response) == "permission_denied"

    def test_editing_options_keeps_votes(self, poll, user):
        yes, no, maybe = poll.options.all()
        client_for(user).post(f"{POLLS}{poll.pk}/vote/", {"option_id": no.pk})
        response = client_for(poll.created_by).patch(f"{POLLS}{poll.pk}/", {"options": [
            {"id": yes.pk, "text": "Yes!"}, {"id": no.pk, "text": "No!"}, {"text": "Not sure"}]}, format="json")
        assert response.status_code == 200, response.json()
        assert [o["text"] for o in response.json()["options"]] == ["Yes!", "No!", "Not sure"]
        assert Option.objects.get(pk=no.pk).vote_count == 1 and Vote.objects.get().option_id == no.pk
        refused = client_for(poll.created_by).patch(f"{POLLS}{poll.pk}/", {"options": [
            {"id": yes.pk, "text": "Yes"}, {"text": "Other"}]}, format="json")
        assert refused.status_code == 409 and error_code(refused) == "option_has_votes"

    def test_close(self, poll):
        response = client_for(poll.created_by).post(f"{POLLS}{poll.pk}/close/")
        assert response.status_code == 200 and response.json()["is_open"] is False

    def test_an_unknown_url_answers_in_the_error_shape(self, api_client):
        response = api_client.get("/api/v1/nothing-here/")
        assert response.status_code == 404 and error_code(response) == "not_found"
