"""The API's scopes (Listrak's "areas") and which scopes a client may be granted."""

from __future__ import annotations

import enum
from typing import Any

from oauth2_provider.scopes import BaseScopes


class Scope(enum.StrEnum):
    CONTACT = "Contact"
    EVENT = "Event"
    LIST = "List"
    MESSAGE = "Message"
    REPORT = "Report"
    SEGMENTATION = "Segmentation"


SCOPE_DESCRIPTIONS = {scope.value: f"{scope.value} access" for scope in Scope}


class ClientScopes(BaseScopes):
    """django-oauth-toolkit's scopes backend: a client is granted the scopes
    it was created with, all of them by default (the client-credentials grant
    usually names none)."""

    def get_all_scopes(self) -> dict[str, str]:
        return SCOPE_DESCRIPTIONS

    def get_available_scopes(self, application: Any = None, request: Any = None) -> list[str]:
        if application is None:
            return list(SCOPE_DESCRIPTIONS)
        client = getattr(application, "api_client", None)
        return client.scope_list if client is not None else []

    def get_default_scopes(self, application: Any = None, request: Any = None) -> list[str]:
        return self.get_available_scopes(application, request)
