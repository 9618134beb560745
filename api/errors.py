"""Errors in Listrak's shape: ``{"status", "error": "ERROR_…", "message"}``.

Every failure of an API request, whatever raised it, leaves through
``api_exception_handler`` (DRF views) or ``error_response`` (plain Django
views), so a client only ever sees this shape.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

INVALID_PARAMETER = "ERROR_INVALID_PARAMETER"
MALFORMED_REQUEST_BODY = "ERROR_MALFORMED_REQUEST_BODY"
UNABLE_TO_LOCATE_RESOURCE = "ERROR_UNABLE_TO_LOCATE_RESOURCE"
UNAUTHORIZED = "ERROR_UNAUTHORIZED"
INVALID_CREDENTIALS = "ERROR_INVALID_CREDENTIALS"
UNSUPPORTED_CONTENT_TYPE = "ERROR_UNSUPPORTED_CONTENT_TYPE"
UNKNOWN_ROUTE = "ERROR_UNKNOWN_ROUTE"
UNSUPPORTED_METHOD = "ERROR_UNSUPPORTED_METHOD"
RESOURCE_DEPENDENCY = "ERROR_RESOURCE_DEPENDENCY"
UNHANDLED_EXCEPTION = "ERROR_UNHANDLED_EXCEPTION"

DENIED = "Authorization was denied for this request."

T = TypeVar("T")


class ApiError(exceptions.APIException):
    """An error with a Listrak code; raise it from a view."""

    def __init__(self, message: str, *, code: str = INVALID_PARAMETER, status_code: int = 400):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message


def not_found(what: str) -> ApiError:
    """Listrak's 404: ``Unable to locate a resource associated with the listId supplied.``"""
    return ApiError(
        f"Unable to locate a resource associated with the {what} supplied.",
        code=UNABLE_TO_LOCATE_RESOURCE,
        status_code=404,
    )


def found(row: T | None, what: str) -> T:
    """``row``, or the 404 of ``what`` when there is none (see ``not_found``)."""
    if row is None:
        raise not_found(what)
    return row


def invalid(parameter: str, why: str = "") -> ApiError:
    message = f"An invalid value was supplied for {parameter}."
    return ApiError(f"{message} {why}".strip())


def body(status_code: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status_code, "error": code, "message": message}


def error_response(status_code: int, code: str, message: str) -> JsonResponse:
    """The error shape for plain Django views (routing, the token endpoint)."""
    return JsonResponse(body(status_code, code, message), status=status_code)


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested error detail as ``field: message`` sentences."""
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys the errors of list items by index
                path = f"{prefix}[{key}]"
            else:
                name = key if key != "non_field_errors" else ""
                path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            messages.extend(_flatten(value, path))
        return messages
    if isinstance(detail, list):
        messages = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            messages.extend(_flatten(value, f"{prefix}[{index}]" if nested else prefix))
        return messages
    text = str(detail)
    return [f"{prefix}: {text}" if prefix else text]


def _translate(exc: Exception) -> tuple[int, str, str] | None:
    if isinstance(exc, ApiError):
        return exc.status_code, exc.error_code, exc.message
    if isinstance(exc, DjangoValidationError):
        code = getattr(exc, "code", None) or ""
        if not code and hasattr(exc, "error_list"):
            code = next((e.code for e in exc.error_list if e.code), "") or ""
        if not str(code).startswith("ERROR_"):
            code = INVALID_PARAMETER
        return 400, code, " ".join(exc.messages)
    if isinstance(exc, exceptions.ValidationError):
        return 400, INVALID_PARAMETER, " ".join(_flatten(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return 400, MALFORMED_REQUEST_BODY, str(exc.detail)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return (
            415,
            UNSUPPORTED_CONTENT_TYPE,
            "Use a Content-Type of application/json for the request body.",
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return 405, UNSUPPORTED_METHOD, f"The route does not support the {exc.args[0]} method."
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return 401, UNAUTHORIZED, DENIED
    if isinstance(exc, exceptions.PermissionDenied):
        return 401, UNAUTHORIZED, str(exc.detail)
    if isinstance(exc, exceptions.NotFound | Http404):
        return 404, UNABLE_TO_LOCATE_RESOURCE, "Unable to locate the resource."
    if isinstance(exc, RequestDataTooBig):
        return 413, MALFORMED_REQUEST_BODY, str(exc)
    if isinstance(exc, exceptions.APIException):
        return exc.status_code, INVALID_PARAMETER, str(exc.detail)
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler for every API view."""
    translated = _translate(exc)
    if translated is None:
        return None  # a bug: Django logs it and answers with server_error (handler500)
    status_code, code, message = translated
    response = Response(body(status_code, code, message), status=status_code)
    if status_code == status.HTTP_401_UNAUTHORIZED:
        request = context.get("request")
        view = context.get("view")
        header = view.get_authenticate_header(request) if view is not None and request else None
        response["WWW-Authenticate"] = header or 'Bearer realm="api"'
    return response


#: Paths answered in this module's shape: the API (config.urls) and its token endpoint.
API_PATHS = ("/email/v1/", "/OAuth2/Token")


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an exception nothing above caught (a bug), already
    logged by Django. API clients get the error shape, never an HTML page;
    the rest of the site gets Django's page."""
    if not request.path_info.startswith(API_PATHS):
        return defaults.server_error(request)
    return error_response(
        500,
        UNHANDLED_EXCEPTION,
        "The server failed to complete the request; the error has been logged.",
    )


def unknown_route(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return error_response(
        404, UNKNOWN_ROUTE, f"There is no route {request.path} in this API; check the path."
    )
