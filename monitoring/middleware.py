import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from monitoring.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS


class RequestMetricsMiddleware:
    """Counts and times every request by its URL pattern (not its path, which
    carries ids and would make a series per object)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "<unmatched>"
        HTTP_REQUEST_SECONDS.labels(method=request.method, route=route).observe(time.perf_counter() - start)
        HTTP_REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        return response
