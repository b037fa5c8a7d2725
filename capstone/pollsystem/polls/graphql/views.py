from django.db import transaction
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from strawberry.django.views import GraphQLView

from config.schema import schema


class JWTGraphQLView(GraphQLView):
    """GraphQL over the same JWT as the REST API (no cookies, so no CSRF to forge)."""

    def dispatch(self, request, *args, **kwargs):
        try:
            found = JWTAuthentication().authenticate(request)
        except AuthenticationFailed:
            found = None
        if found is not None:
            request.user = found[0]
        return super().dispatch(request, *args, **kwargs)


graphql_view = csrf_exempt(transaction.non_atomic_requests(JWTGraphQLView.as_view(schema=schema)))
