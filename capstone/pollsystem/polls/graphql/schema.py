"""The polls app's part of the GraphQL schema: the same selectors and services as REST."""

from __future__ import annotations

from datetime import datetime

import strawberry
import strawberry_django
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from graphql import GraphQLError
from strawberry.types import Info

from pollsystem.core.exceptions import ApplicationError
from pollsystem.polls import selectors, services
from pollsystem.polls.graphql.types import PollResultsType, PollType, VoteType

MAX_PAGE = 100


def _user(info: Info):
    user = getattr(info.context.request, "user", None)
    if user is None or not user.is_authenticated:
        raise GraphQLError("Authentication credentials were not provided.",
                           extensions={"code": "not_authenticated"})
    return user


def _run(fn, **kwargs):
    """Call a service; turn the API's error kinds into GraphQL errors with the same codes."""
    try:
        return fn(**kwargs)
    except ApplicationError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "details": exc.details}) from None
    except ValidationError as exc:
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise GraphQLError("The request is not valid.",
                           extensions={"code": "validation_error", "details": details}) from None
    except PermissionDenied as exc:
        raise GraphQLError(str(exc) or "Permission denied.", extensions={"code": "permission_denied"}) from None
    except Http404:
        raise GraphQLError("Not found.", extensions={"code": "not_found"}) from None


@strawberry.type
class Query:
    @strawberry_django.field(description="Polls, newest first.")
    def polls(self, first: int = 20, offset: int = 0, status: str | None = None) -> list[PollType]:
        if not 1 <= first <= MAX_PAGE or offset < 0:
            raise GraphQLError(f"first must be between 1 and {MAX_PAGE}, offset at least 0",
                               extensions={"code": "validation_error"})
        if status not in (None, "open", "closed"):
            raise GraphQLError("status must be open or closed", extensions={"code": "validation_error"})
        return selectors.poll_list(status=status)[offset:offset + first]

    @strawberry_django.field
    def poll(self, id: strawberry.ID) -> PollType | None:
        return selectors.poll_list().filter(pk=id).first()

    @strawberry.field(description="Per-option counts, cached until a vote or an edit commits.")
    def results(self, poll_id: strawberry.ID) -> PollResultsType:
        return PollResultsType.from_dict(_run(selectors.poll_results, poll_id=int(poll_id)))


@strawberry.input
class CreatePollInput:
    question: str
    options: list[str]
    expires_at: datetime


@strawberry.type
class Mutation:
    @strawberry.mutation
    def create_poll(self, info: Info, input: CreatePollInput) -> PollType:
        poll = _run(services.poll_create, created_by=_user(info), question=input.question,
                    options=input.options, expires_at=input.expires_at)
        return selectors.poll_get(poll_id=poll.pk)

    @strawberry.mutation
    def vote(self, info: Info, poll_id: strawberry.ID, option_id: strawberry.ID) -> VoteType:
        vote = _run(services.vote_cast, poll_id=int(poll_id), option_id=int(option_id), user=_user(info))
        return VoteType(poll_id=vote.poll_id, option_id=vote.option_id, voted_at=vote.created_at.isoformat())

    @strawberry.mutation
    def close_poll(self, info: Info, poll_id: strawberry.ID) -> PollType:
        _run(services.poll_close, poll_id=int(poll_id), user=_user(info))
        return selectors.poll_get(poll_id=int(poll_id))
