"""Routes under ``/email/v1/``: every path also answers with a trailing slash,
and anything else is Listrak's ``ERROR_UNKNOWN_ROUTE``."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

# Registers the OpenAPI security scheme; here, not in AppConfig.ready, so
# workers, which never describe the API, do not load drf-spectacular.
from api import schema  # noqa: F401
from api.errors import unknown_route
from api.views import (
    campaigns,
    contact_fields,
    contacts,
    content,
    conversations,
    engagement,
    events,
    fields,
    folders,
    imports,
    lists,
    messages,
    saved_audiences,
    saved_messages,
    split_tests,
    transactional,
)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, since the
    # Content-Security-Policy allows no inline script.
    path(
        "schema/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("schema/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    *lists.urlpatterns,
    *fields.urlpatterns,
    *events.urlpatterns,
    *contact_fields.urlpatterns,  # before Contact/{contactIdentifier}, which would match it
    *contacts.urlpatterns,
    *imports.urlpatterns,
    *conversations.urlpatterns,
    *engagement.urlpatterns,
    *campaigns.urlpatterns,
    *folders.urlpatterns,  # Folder and IpPool
    *saved_audiences.urlpatterns,
    *content.urlpatterns,  # Content and ContentFolder
    *transactional.urlpatterns,
    *messages.urlpatterns,  # the list's Message (broadcasts) and its reports
    *saved_messages.urlpatterns,
    *split_tests.urlpatterns,
    re_path(r"^.*$", unknown_route),
]
