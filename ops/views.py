"""The probes and the Prometheus endpoint.

``/healthz`` and ``/readyz`` answer anyone, without a session or a login
(a load balancer's or Kubernetes' probe has neither), and so say only
"ok" or what is wrong, in words. ``/metrics`` answers only a bearer of
``METRICS_TOKEN`` and is off (404) without one.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from typing import Any

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from health_check.views import HealthCheckView
from prometheus_client import multiprocess

from ops.metrics import PlatformCollector


class Probe(HealthCheckView):
    """django-health-check's view, answering JSON only:
    ``{"status": "ok" | "failing", "checks": {name: "ok" or the problem}}``,
    with 200 when every check passes and 503 otherwise (the library says
    500, which reads as a bug in the probe rather than "not ready")."""

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        checks = {
            type(result.check).name: "ok" if result.error is None else str(result.error.message)
            for result in results
        }
        failing = any(result.error is not None for result in results)
        return JsonResponse(
            {"status": "failing" if failing else "ok", "checks": checks},
            status=503 if failing else 200,
        )


def _registry() -> prometheus_client.CollectorRegistry:
    """django-prometheus' counters, as its own view finds them: summed over
    every process (gunicorn's workers) with PROMETHEUS_MULTIPROC_DIR, else
    this process's."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' text format: django-prometheus' metrics, then the
    platform's gauges (``ops.metrics``)."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Metrics are turned off.\n", status=404, content_type="text/plain")
    # As every HTTP auth scheme, "Bearer" is matched without regard to case.
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        refused = HttpResponse(
            "Missing or wrong bearer token.\n", status=401, content_type="text/plain"
        )
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    platform = prometheus_client.CollectorRegistry(auto_describe=False)
    platform.register(PlatformCollector())
    body = prometheus_client.generate_latest(_registry()) + prometheus_client.generate_latest(
        platform
    )
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
