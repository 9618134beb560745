"""What a locked-out staff sign-in sees (django-axes' ``AXES_LOCKOUT_CALLABLE``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, response: Any, credentials: Any = None) -> HttpResponse:
    """The admin's page, or the API's JSON error for a token request."""
    if request.path.lower().startswith("/oauth2/"):
        from api.token_logins import locked_response

        return locked_response()
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)
