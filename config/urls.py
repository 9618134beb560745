from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from api.token import ClientCredentialsTokenView
from emails.anymail_feedback import tracking_urls

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    re_path(r"^OAuth2/Token/?$", ClientCredentialsTokenView.as_view(), name="oauth2-token"),
    path("email/v1/", include("api.urls")),
    path("", include("contacts.urls")),  # double opt-in confirmation links
    path("", include("emails.urls")),  # the links inside sent emails
    path("", include("signups.urls")),  # subscription points: /s/<key>/
    # An email service's bounce and complaint webhooks: /anymail/<service>/tracking/.
    path("anymail/", include((tracking_urls(), "anymail"))),
    # Probes and Prometheus: /healthz, /readyz, /metrics (ops/urls.py).
    path("", include("ops.urls")),
    # The admin's files with DEBUG on (`make run` serves through gunicorn, not runserver);
    # nothing without DEBUG, where collectstatic and the proxy serve them.
    *staticfiles_urlpatterns(),
]

# Django looks for it in the root URLconf only.
handler500 = "api.errors.server_error"
