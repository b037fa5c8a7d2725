"""One error shape for every failure the API reports.

Every error body is ``{"error": {"code": ..., "message": ..., "details": ...}}``: validation
errors, 401/403/404, a conflict such as a second vote (409), and throttling (429).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A business rule refused the request. Services raise it; the API maps it to a status."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str = "invalid", status_code: int | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}
        if status_code is not None:
            self.status_code = status_code


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return _response(exc.status_code, error_body(exc.code, exc.message, exc.details))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:  # an unexpected exception: Django's 500 handling (and Sentry) take it
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("validation_error", "The request is not valid.", response.data)
    else:
        details = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after_seconds": int(exc.wait)}
        detail = exc.detail
        if isinstance(detail, dict):  # simplejwt's InvalidToken: {"detail": ..., "code": ..., "messages": [...]}
            details = {**details, **{k: v for k, v in detail.items() if k not in ("detail", "code")}}
            message = str(detail.get("detail", exc.default_detail))
            code = str(detail.get("code", exc.default_code))
        else:
            message = str(detail)
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        response.data = error_body(code, message, details)
    return response


def _response(status_code: int, body: dict):
    from rest_framework.response import Response

    return Response(body, status=status_code)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
