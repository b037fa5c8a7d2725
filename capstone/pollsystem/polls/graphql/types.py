from __future__ import annotations

import strawberry
import strawberry_django
from strawberry import auto

from pollsystem.polls.models import Option, Poll
from pollsystem.users.models import User


@strawberry_django.type(User)
class UserType:
    id: auto
    username: auto


@strawberry_django.type(Option)
class OptionType:
    id: auto
    text: auto
    position: auto


@strawberry_django.type(Poll)
class PollType:
    id: auto
    question: auto
    created_at: auto
    expires_at: auto
    closed_at: auto
    created_by: UserType
    options: list[OptionType]

    @strawberry_django.field(only=["closed_at", "expires_at"])
    def is_open(self) -> bool:
        return self.is_open()


@strawberry.type
class OptionResultType:
    id: strawberry.ID
    text: str
    votes: int


@strawberry.type
class PollResultsType:
    poll_id: strawberry.ID
    question: str
    is_open: bool
    total_votes: int
    options: list[OptionResultType]

    @classmethod
    def from_dict(cls, results: dict) -> PollResultsType:
        return cls(poll_id=results["poll_id"], question=results["question"], is_open=results["is_open"],
                   total_votes=results["total_votes"],
                   options=[OptionResultType(id=o["id"], text=o["text"], votes=o["votes"]) for o in results["options"]])


@strawberry.type
class VoteType:
    poll_id: strawberry.ID
    option_id: strawberry.ID
    voted_at: str
