"""The root GraphQL schema: each app's Query and Mutation merged, with the ORM optimizer."""

import strawberry
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

from pollsystem.polls.graphql.schema import Mutation as PollsMutation
from pollsystem.polls.graphql.schema import Query as PollsQuery

Query = merge_types("Query", (PollsQuery,))
Mutation = merge_types("Mutation", (PollsMutation,))

schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[DjangoOptimizerExtension])
