"""/healthz, /readyz and /metrics: for load balancers, container health
checks and Prometheus, not for people (no page, no sign-in)."""

import secrets
from http import HTTPStatus

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import health, metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no database or server, so a
    down dependency never gets a healthy web process restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, the broker and the cache all answer;
    503 naming each one that does not (never a 500)."""
    checks = health.readiness()
    failing = sorted(name for name, result in checks.items() if result != "ok")
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing}
    return JsonResponse(body, status=HTTPStatus.SERVICE_UNAVAILABLE if failing else HTTPStatus.OK)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for `Authorization: Bearer <METRICS_TOKEN>` only;
    without a configured token the endpoint does not exist (404)."""
    expected = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        raise Http404
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
