"""Failed token requests count as failed sign-ins (django-axes), so a
client secret cannot be guessed faster than an admin password: after
``LOGIN_FAILURE_LIMIT`` wrong secrets for one client id from one address,
that pair gets 429 for ``LOGIN_COOLOFF_MINUTES``."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, JsonResponse

from api.errors import error_response

#: Axes keys a client's attempts by this "user name", apart from staff accounts.
PREFIX = "api-client:"


def client_id_of(request: HttpRequest) -> str:
    """The client id of a token request: in the form, or in HTTP Basic auth."""
    client_id = request.POST.get("client_id", "")
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if not client_id and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        client_id = unquote_plus(decoded.partition(":")[0])
    return client_id.strip()[:100]


def _credentials(client_id: str) -> dict[str, str]:
    return {"username": PREFIX + client_id}


def is_locked(request: HttpRequest, client_id: str) -> bool:
    return not AxesProxyHandler.is_allowed(request, _credentials(client_id))


def failed(request: HttpRequest, client_id: str) -> None:
    user_login_failed.send(sender=__name__, credentials=_credentials(client_id), request=request)


def succeeded(request: HttpRequest, client_id: str) -> None:
    # As AXES_RESET_ON_SUCCESS does for staff: a right secret clears the count.
    ip_address = request.axes_ip_address  # type: ignore[attr-defined]  # django-axes sets it on requests it handles
    AxesProxyHandler.reset_attempts(username=PREFIX + client_id, ip_address=ip_address)


def locked_response() -> JsonResponse:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return error_response(
        429,
        "ERROR_TOO_MANY_REQUESTS",
        f"Too many failed token requests for this client from your address: try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}.",
    )
