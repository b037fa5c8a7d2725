import json
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from config.schema import schema
from pollsystem.polls.models import Vote
from pollsystem.polls.tests.factories import PollFactory

pytestmark = pytest.mark.django_db

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "schema.graphql"


def gql(client, query, variables=None, user=None):
    headers = {}
    if user is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {RefreshToken.for_user(user).access_token}"
    response = client.post("/graphql/", json.dumps({"query": query, "variables": variables or {}}),
                           content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    return response.json()


POLLS = """query Polls($first: Int!) { polls(first: $first) {
  id question isOpen createdBy { username } options { id text position } } }"""


def test_the_committed_schema_matches_the_code():
    assert SCHEMA_FILE.read_text().rstrip("\n") == schema.as_str(), (
        "schema.graphql is out of date: run "
        "`python manage.py export_schema config.schema:schema --path schema.graphql`")


@pytest.mark.parametrize("n_polls", [1, 10, 30])
def test_polls_with_creators_and_options_cost_two_queries(client, n_polls, assert_max_selects):
    for _ in range(n_polls):
        PollFactory(options=["a", "b", "c", "d"])
    with assert_max_selects(2):  # the optimizer joins creators and prefetches options
        body = gql(client, POLLS, {"first": 50})
    assert "errors" not in body, body
    assert len(body["data"]["polls"]) == n_polls
    assert all(len(p["options"]) == 4 for p in body["data"]["polls"])


def test_vote_and_results_through_graphql(client, user):
    poll = PollFactory()
    option = poll.options.get(text="No")
    vote = """mutation Vote($poll: ID!, $option: ID!) {
      vote(pollId: $poll, optionId: $option) { pollId optionId } }"""
    first = gql(client, vote, {"poll": poll.pk, "option": option.pk}, user=user)
    assert first["data"]["vote"] == {"pollId": str(poll.pk), "optionId": str(option.pk)}
    again = gql(client, vote, {"poll": poll.pk, "option": option.pk}, user=user)
    assert again["errors"][0]["extensions"]["code"] == "already_voted"
    results = gql(client, "query R($p: ID!) { results(pollId: $p) { totalVotes options { text votes } } }",
                  {"p": poll.pk})
    assert results["data"]["results"]["totalVotes"] == 1
    assert {o["text"]: o["votes"] for o in results["data"]["results"]["options"]} == {"Yes": 0, "No": 1, "Maybe": 0}


def test_mutations_need_a_token(client):
    poll = PollFactory()
    body = gql(client, f"mutation {{ vote(pollId: {poll.pk}, optionId: {poll.options.first().pk}) {{ pollId }} }}")
    assert body["errors"][0]["extensions"]["code"] == "not_authenticated"
    assert not Vote.objects.exists()


def test_create_and_close_follow_the_same_rules_as_rest(client, user):
    create = """mutation C($input: CreatePollInput!) { createPoll(input: $input) { id isOpen options { text } } }"""
    bad = gql(client, create, {"input": {"question": "Q?", "options": ["one"], "expiresAt": "2099-01-01T00:00:00Z"}},
              user=user)
    assert bad["errors"][0]["extensions"]["code"] == "validation_error"
    good = {"question": "Q?", "options": ["a", "b"], "expiresAt": "2099-01-01T00:00:00Z"}
    made = gql(client, create, {"input": good}, user=user)["data"]["createPoll"]
    assert made["isOpen"] and [o["text"] for o in made["options"]] == ["a", "b"]
    stranger = PollFactory().created_by
    refused = gql(client, f"mutation {{ closePoll(pollId: {made['id']}) {{ isOpen }} }}", user=stranger)
    assert refused["errors"][0]["extensions"]["code"] == "permission_denied"
    closed = gql(client, f"mutation {{ closePoll(pollId: {made['id']}) {{ isOpen }} }}", user=user)
    assert closed["data"]["closePoll"]["isOpen"] is False
