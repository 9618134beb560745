"""What every API view shares: authentication, scopes, body rules, envelopes."""

from __future__ import annotations

import hashlib
import time
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Model
from django.db.models.signals import post_delete
from django.dispatch import receiver
from oauth2_provider.models import AccessToken
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import DENIED, found, invalid, not_found
from api.parsers import StrictJSONParser
from api.scopes import Scope
from lists.models import List

INT32_MAX = 2**31 - 1
BODY_METHODS = ("POST", "PUT", "PATCH")

M = TypeVar("M", bound=Model)


class BearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer TOKEN``, checked against django-oauth-toolkit's
    access tokens by their SHA-256 checksum (how the toolkit itself finds
    them), without building an oauthlib request for every call. Reads only
    the header, so a bad token is a 401 even when the body is malformed.

    A process trusts a token it has checked for ``API_TOKEN_CACHE_SECONDS``
    (never past its expiry), sparing a query per call; deleting a token
    forgets it at once in this process, and in the others within that time.
    """

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None  # not ours: the session (browsable API) may apply
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed(DENIED)
        checksum = hashlib.sha256(token.encode()).hexdigest()
        access = _trusted_token(checksum)
        if access is None:
            raise exceptions.AuthenticationFailed(DENIED)
        return None, access

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


#: checksum -> (trusted until, monotonic seconds; the token)
_checked_tokens: dict[str, tuple[float, AccessToken]] = {}
_MAX_CHECKED_TOKENS = 10_000


def _trusted_token(checksum: str) -> AccessToken | None:
    now = time.monotonic()
    cached = _checked_tokens.get(checksum)
    if cached is not None and cached[0] > now and not cached[1].is_expired():
        return cached[1]
    found = AccessToken.objects.filter(token_checksum=checksum, application__isnull=False)
    access = next(iter(found.only("expires", "scope", "application_id").order_by()[:1]), None)
    if access is None or access.is_expired():
        _checked_tokens.pop(checksum, None)
        return None
    if settings.API_TOKEN_CACHE_SECONDS:
        if len(_checked_tokens) >= _MAX_CHECKED_TOKENS:
            _checked_tokens.clear()
        _checked_tokens[checksum] = (now + settings.API_TOKEN_CACHE_SECONDS, access)
    return access


@receiver(post_delete, sender=AccessToken)
def _forget_token(sender: type, instance: AccessToken, **kwargs: Any) -> None:
    _checked_tokens.pop(instance.token_checksum, None)


#: The model permissions a staff session needs to read a route of each scope
#: through the browsable API (a view adds its own in ``session_permissions``).
SCOPE_VIEW_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Scope.LIST: ("lists.view_list",),
    Scope.CONTACT: ("contacts.view_contact",),
    Scope.EVENT: ("lists.view_event", "lists.view_eventgroup"),
    Scope.SEGMENTATION: ("lists.view_profilefield", "lists.view_profilefieldgroup"),
    Scope.MESSAGE: ("emails.view_message",),
    Scope.REPORT: ("contacts.view_activity",),
}

SESSION_READ_ONLY = (
    "A signed-in staff session may only read through the API (the browsable API); "
    "programs write with a bearer token from /OAuth2/Token."
)


class HasScopes(BasePermission):
    """A bearer token must carry every scope the view names in
    ``required_scopes``.

    A staff member signed in to the admin may *read* through the browsable
    API what their model permissions let them view in the admin: each scope's
    ``SCOPE_VIEW_PERMISSIONS`` plus the view's ``session_permissions``.
    Sessions never write: a write by session cookie would turn any page that
    can forge a CSRF token into a way to delete lists, and programs have
    tokens for that."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, AccessToken):
            granted = set(token.scope.split())
            missing = [s for s in view.required_scopes if s not in granted]
            if missing:
                raise exceptions.PermissionDenied(
                    f"{DENIED} The token lacks the {', '.join(missing)} "
                    f"scope{'s' if len(missing) > 1 else ''} this route needs."
                )
            return True
        user = request.user
        if user is None or not (user.is_active and user.is_staff):
            return False
        if request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(f"{DENIED} {SESSION_READ_ONLY}")
        needed = session_permissions(view)
        missing = sorted(p for p in needed if not user.has_perm(p))
        if missing:
            raise exceptions.PermissionDenied(
                f"{DENIED} Your staff account lacks the permission"
                f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} this route reads."
            )
        return True


def session_permissions(view: Any) -> list[str]:
    """The model permissions a staff session needs to read ``view``."""
    needed = [p for scope in view.required_scopes for p in SCOPE_VIEW_PERMISSIONS[scope]]
    return list(dict.fromkeys([*needed, *view.session_permissions]))


class ApiView(APIView):
    """Base of every ``/email/v1/`` view.

    Subclasses set ``required_scopes`` (the reference's ``security`` block)
    and answer with the envelope helpers below.
    """

    required_scopes: tuple[str, ...] = ()
    #: Model permissions a staff session needs beyond its scopes' (``HasScopes``).
    session_permissions: tuple[str, ...] = ()
    authentication_classes = [BearerAuthentication, SessionAuthentication]
    permission_classes = [HasScopes]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    max_body_bytes: int = settings.API_MAX_BODY_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticates first: 401 before 400
        # DRF finds no handler only after initial(); a PUT to a GET-only route
        # would otherwise be judged on its body (415) before its method (405).
        assert request.method is not None  # always set on a request being served
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            self.http_method_not_allowed(request)
        if request.method in BODY_METHODS:
            self._check_body_headers(request)

    def _check_body_headers(self, request: Request) -> None:
        if request.content_type.split(";")[0].strip().lower() != "application/json":
            raise exceptions.UnsupportedMediaType(request.content_type or "none")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            raise RequestDataTooBig(
                f"The request body is larger than the {self.max_body_bytes:,} bytes allowed."
            )

    # --- Parameters ---------------------------------------------------------

    def get_list(self, list_id: str) -> List:
        pk = parse_id(list_id, "listId")
        # No ORDER BY (``first()`` would add one): one row by its key, on every call.
        email_list = next(iter(List.objects.filter(pk=pk).order_by()[:1]), None)
        if email_list is None:
            raise not_found("listId")
        return email_list

    def get_in_list(self, model: type[M], list_id: str, row_id: str, name: str) -> M:
        """The ``model`` row ``row_id`` of list ``list_id``, ``name`` being the
        row's parameter in Listrak's words ("eventId"): a 404 naming both
        parameters when the list has no such row."""
        email_list = self.get_list(list_id)
        pk = parse_id(row_id, name)
        row = model._default_manager.filter(pk=pk, list=email_list).first()
        return found(row, f"listId and {name}")

    def body(self, request: Request) -> Any:
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ParseError("The request body must be a JSON object.")
        return data

    # --- Envelopes ----------------------------------------------------------

    @staticmethod
    def ok(data: Any) -> Response:
        return Response({"status": 200, "data": data})

    @staticmethod
    def page(data: list[Any], next_cursor: str | None) -> Response:
        return Response({"status": 200, "nextPageCursor": next_cursor, "data": data})

    @staticmethod
    def created(resource_id: object) -> Response:
        return Response({"status": 201, "resourceId": str(resource_id)}, status=201)

    @staticmethod
    def updated(resource_id: object) -> Response:
        return Response({"status": 200, "resourceId": str(resource_id)})

    @staticmethod
    def deleted() -> Response:
        return Response({"status": 200})


def parse_id(value: str, name: str) -> int:
    """A route or body identifier: a positive 32-bit integer, as Listrak's are."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= INT32_MAX:
        raise invalid(name, f"{name} is a positive whole number, not {value!r}.")
    return int(text)


def parse_bool(params: Any, name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(name, f"{name} is true or false, not {raw!r}.")
