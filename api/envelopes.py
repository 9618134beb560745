"""Serializers describing Listrak's envelopes, for the OpenAPI description."""

from __future__ import annotations

from functools import cache

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
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


@cache
def resource(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, data: <data>}``."""
    name = data.__name__.removesuffix("Serializer")
    return type(
        f"Resource{name}Serializer",
        (serializers.Serializer,),
        {"status": serializers.IntegerField(), "data": data()},
    )


@cache
def collection(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, data: [<data>]}``."""
    name = data.__name__.removesuffix("Serializer")
    return type(
        f"Collection{name}Serializer",
        (serializers.Serializer,),
        {"status": serializers.IntegerField(), "data": data(many=True)},
    )


@cache
def paged(data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{status, nextPageCursor, data: [<data>]}``."""
    name = data.__name__.removesuffix("Serializer")
    return type(
        f"CollectionPaged{name}Serializer",
        (serializers.Serializer,),
        {
            "status": serializers.IntegerField(),
            "nextPageCursor": serializers.CharField(allow_null=True),
            "data": data(many=True),
        },
    )


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


def responses(ok: dict[int, object], *error_codes: int) -> dict[int, object]:
    return {**ok, **errors(*error_codes)}
