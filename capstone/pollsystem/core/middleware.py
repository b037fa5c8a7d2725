import logging
import time

from pollsystem.core.logging import new_request_id, request_id

logger = logging.getLogger("pollsystem.request")


class RequestIdMiddleware:
    """Give each request an id (kept from X-Request-ID when well formed), log it, echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_id.set(new_request_id(request.headers.get("X-Request-ID")))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id.get()
            logger.info("request", extra={"method": request.method, "path": request.path,
                                          "status": response.status_code,
                                          "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            return response
        finally:
            request_id.reset(token)
