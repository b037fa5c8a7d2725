from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from pollsystem.core import health
from pollsystem.core.views import demo_page
from pollsystem.polls.graphql.views import graphql_view

api_v1 = [
    path("auth/", include("pollsystem.users.urls")),
    path("polls/", include("pollsystem.polls.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("graphql/", graphql_view, name="graphql"),
    path("", demo_page, name="demo"),
    path("admin/", admin.site.urls),
]

handler404 = "pollsystem.core.exceptions.not_found"
handler500 = "pollsystem.core.exceptions.server_error"
