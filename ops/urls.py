"""The probes and the metrics, at the site's root (config/urls.py)."""

from django.urls import path

from ops import views
from ops.checks import READINESS

urlpatterns = [
    # Liveness: the process answers. No check, so no database query: a
    # database outage must not get every web process restarted.
    path("healthz", views.Probe.as_view(checks=()), name="healthz"),
    # Readiness: this process can serve (database, broker, migrations, workers).
    path("readyz", views.Probe.as_view(checks=READINESS), name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
