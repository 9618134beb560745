"""``POST /OAuth2/Token``: the client-credentials grant, as Listrak's auth server."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from api import token_logins
from api.errors import INVALID_CREDENTIALS, INVALID_PARAMETER, UNSUPPORTED_METHOD, error_response
from api.models import ApiClient

FORM = "application/x-www-form-urlencoded"
#: OAuth's error codes, as Listrak's.
_CODES = {"invalid_client": INVALID_CREDENTIALS, "unauthorized_client": INVALID_CREDENTIALS}


@method_decorator(csrf_exempt, name="dispatch")
class ClientCredentialsTokenView(TokenView):
    """django-oauth-toolkit's token endpoint, answering errors in Listrak's shape."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return error_response(
                405, UNSUPPORTED_METHOD, "Request a token with POST, form-encoded."
            )
        if request.content_type not in (FORM, "multipart/form-data"):
            return error_response(
                415,
                "ERROR_UNSUPPORTED_CONTENT_TYPE",
                f"Send the token request as {FORM} with grant_type, client_id and client_secret.",
            )
        grant = request.POST.get("grant_type", "")
        if grant != "client_credentials":
            return error_response(
                400,
                INVALID_PARAMETER,
                f"grant_type must be client_credentials, not {grant!r}."
                if grant
                else "grant_type is missing; send grant_type=client_credentials.",
            )
        client_id = token_logins.client_id_of(request)
        if token_logins.is_locked(request, client_id):
            return token_logins.locked_response()
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code < 400:
            token_logins.succeeded(request, client_id)
            return response
        try:
            detail = json.loads(response.content)
        except ValueError:
            detail = {}
        oauth_error = detail.get("error", "")
        if oauth_error == "invalid_scope":
            return scope_refused(request, client_id, response.status_code)
        if oauth_error == "invalid_client":
            token_logins.failed(request, client_id)
            message = "Invalid client credentials: check client_id and client_secret."
        else:
            message = detail.get("error_description") or oauth_error or "The request failed."
        status = 401 if oauth_error in _CODES else response.status_code
        return error_response(status, _CODES.get(oauth_error, INVALID_PARAMETER), message)


def scope_refused(request: HttpRequest, client_id: str, status: int) -> JsonResponse:
    """OAuth's ``invalid_scope`` (RFC 6749 section 5.2), naming the scopes
    refused and those the client has; oauthlib says only ``invalid_scope``.
    The client has authenticated by now (oauthlib checks it first), so it
    may learn its own scopes. ``status`` and ``message`` are there too, for
    clients that read every error in Listrak's shape."""
    client = ApiClient.objects.filter(application__client_id=client_id).first()
    granted = client.scope_list if client is not None else []
    requested = request.POST.get("scope", "").split()
    missing = [scope for scope in dict.fromkeys(requested) if scope not in granted]
    refused = ", ".join(missing) if missing else repr(request.POST.get("scope", ""))
    message = (
        f"This client is not granted the scope{'s' if len(missing) > 1 else ''} {refused}; "
        f"its scopes are {', '.join(granted) or 'none'}. Ask for some of those, "
        "or leave out scope to get them all."
    )
    body = {"status": status, "error": "invalid_scope", "error_description": message}
    return JsonResponse({**body, "message": message}, status=status)
