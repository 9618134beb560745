"""Serializers describing Listrak's envelopes, for the OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from api.paging import DEFAULT_COUNT, MAX_COUNT


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    error = serializers.CharField()
    message = serializers.CharField()


class ResourceCreatedSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    resourceId = serializers.CharField()


class ResourceDeletedSerializer(serializers.Serializer):
    status = serializers.IntegerField()


def _envelope(
    prefix: str, data: type[serializers.Serializer], *, many: bool, cursor: bool = False
) -> type[serializers.Serializer]:
    # Serializers order their fields by creation: status, then the cursor, then data.
    fields: dict[str, serializers.Field] = {"status": serializers.IntegerField()}
    if cursor:
        fields["nextPageCursor"] = serializers.CharField(allow_null=True)
    fields["data"] = data(many=many)
    name = data.__name__.removesuffix("Serializer")
    return type(f"{prefix}{name}Serializer", (serializers.Serializer,), fields)


@cache
def resource(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, data: <data>}``."""
    return _envelope("Resource", data, many=False)


@cache
def collection(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, data: [<data>]}``."""
    return _envelope("Collection", data, many=True)


@cache
def paged(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, nextPageCursor, data: [<data>]}``."""
    return _envelope("CollectionPaged", data, many=True, cursor=True)


#: ``cursor`` and ``count`` of a paged route, bounded as ``api.paging`` reads them.
PAGING = [
    OpenApiParameter(
        "cursor", str, description="Start (the default) for the first page, then nextPageCursor."
    ),
    OpenApiParameter(
        "count",
        {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": DEFAULT_COUNT},
        description=f"Rows per page: 1 to {MAX_COUNT}, {DEFAULT_COUNT} unless told.",
    ),
]


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of a route (400, 401 and 404 unless told)."""
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        404: "NotFound",
        405: "MethodNotAllowed",
        413: "RequestTooLarge",
        415: "UnsupportedMediaType",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=names[code])
        for code in codes or (400, 401, 404)
    }


def operation_schema(tag: str) -> Callable[..., Any]:
    """The ``extend_schema`` of the routes of Listrak's resource ``tag``:
    ``operation_schema("Event")("GetEventCollection", "Get all Events", ...)``
    describes the operation ``Event_GetEventCollection``."""

    def describe(operation: str, summary: str, **kwargs: Any) -> Any:
        return extend_schema(
            operation_id=f"{tag}_{operation}", summary=summary, tags=[tag], **kwargs
        )

    return describe


def responses(ok: dict[int, object], *error_codes: int) -> dict[int, object]:
    return {**ok, **errors(*error_codes)}
