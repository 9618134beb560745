"""``POST /OAuth2/Token``: the client-credentials grant, as Listrak's auth server."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.views import TokenView

from api.errors import INVALID_CREDENTIALS, INVALID_PARAMETER, UNSUPPORTED_METHOD, error_response

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
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code < 400:
            return response
        try:
            detail = json.loads(response.content)
        except ValueError:
            detail = {}
        oauth_error = detail.get("error", "")
        if oauth_error == "invalid_client":
            message = "Invalid client credentials: check client_id and client_secret."
        else:
            message = detail.get("error_description") or oauth_error or "The request failed."
        status = 401 if oauth_error in _CODES else response.status_code
        return error_response(status, _CODES.get(oauth_error, INVALID_PARAMETER), message)
