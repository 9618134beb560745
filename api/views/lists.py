"""``List`` and ``List/{listId}``; also the strict field types and the
answers to the lists services' refusals that the list's sub-resources
(fields, events) share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView
from api.envelopes import (
    ResourceCreatedSerializer,
    ResourceDeletedSerializer,
    collection,
    resource,
    responses,
)
from api.errors import ApiError, invalid, not_found
from api.routes import route
from api.scopes import Scope
from api.serializers import (
    ApiSerializer,
    EmailAddressField,
    TextField,
    TrueFalseField,
    WholeNumberField,
    validated,
)
from contacts.services import delete_list
from lists.models import BounceHandling, Folder, List, time_zone_names, validate_time_zone
from lists.services import ChangedMeanwhile, NameTaken, create_list, update_list

# --- Listrak settings this server does not have ----------------------------------
# Returned at their neutral value; accepted on input only at that value, so a
# client asking for a feature is told it is missing instead of silently ignored.


class _Unsupported(serializers.Field):
    neutral: ClassVar[object] = None
    accepted: ClassVar[tuple[object, ...]] = ()  # besides null
    hint: ClassVar[str] = "null"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, **kwargs)

    def get_attribute(self, instance: Any) -> object:
        return self.neutral

    def to_representation(self, value: object) -> object:
        return list(self.neutral) if isinstance(self.neutral, list) else self.neutral

    def to_internal_value(self, data: Any) -> None:
        if any(type(data) is type(ok) and data == ok for ok in self.accepted):
            return None
        raise serializers.ValidationError(
            f"This server does not support {self.field_name}; send {self.hint} or leave it out."
        )


_UNSUPPORTED = "Not supported by this server: "


# Constraints rather than enums: drf-spectacular would hoist each enum into a
# component of its own, and a ["", null] enum into an invalid empty one.
@extend_schema_field(
    {
        "type": "boolean",
        "nullable": True,
        "not": {"enum": [True]},
        "description": _UNSUPPORTED + "always false.",
    }
)
class UnsupportedBoolean(_Unsupported):
    neutral = False
    accepted = (False,)
    hint = "false"


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "nullable": True,
        "minimum": 0,
        "maximum": 0,
        "description": _UNSUPPORTED + "null (0 is accepted as none).",
    }
)
class UnsupportedId(_Unsupported):
    accepted = (0,)
    hint = "null or 0"


@extend_schema_field(
    {"type": "string", "nullable": True, "maxLength": 0, "description": _UNSUPPORTED + "null."}
)
class UnsupportedText(_Unsupported):
    accepted = ("",)
    hint = 'null or ""'


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "maxItems": 0,
        "nullable": True,
        "description": _UNSUPPORTED + "an empty array.",
    }
)
class UnsupportedTextList(_Unsupported):
    neutral: ClassVar[object] = []
    accepted: ClassVar[tuple[object, ...]] = ([],)
    hint = "[] or null"


@extend_schema_field({"type": "string", "enum": sorted(time_zone_names())})
class TimeZoneField(TextField):
    """An IANA time zone name, exactly as the time zone database spells it
    (``lists.models.time_zone_names``, which the description lists)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [validate_time_zone])
        super().__init__(trim_whitespace=False, max_length=64, **kwargs)


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": INT32_MAX,
        "nullable": True,
        "description": "Identifier of the folder associated with the list; null (or 0) for none.",
    }
)
class FolderIdField(WholeNumberField):
    """A folder (``Folder``), or none: null, or 0 as a .NET client sends it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=INT32_MAX, allow_null=True, **kwargs)


# --- The lists services' refusals, in the API's words -------------------------------


@contextmanager
def refused_as(*, parameter: str, noun: str, what: str) -> Iterator[None]:
    """Answer a refusal of a write to a resource whose name is unique per list
    (``lists.services``): a clash is a 400 naming the name, a row deleted
    meanwhile the 404 of ``what`` (e.g. "listId and eventId"). ``noun`` is
    the resource in Listrak's words ("segmentation field")."""
    try:
        yield
    except NameTaken as taken:
        raise invalid(parameter, taken.worded(noun)) from None
    except ChangedMeanwhile as changed:
        raise ApiError(changed.worded(noun)) from None
    except ObjectDoesNotExist:
        raise not_found(what) from None


# --- Path parameters -------------------------------------------------------------


def path_id(name: str, description: str) -> OpenApiParameter:
    """A route identifier: a positive int32, as Listrak's are."""
    schema = {"type": "integer", "format": "int32", "minimum": 1, "maximum": INT32_MAX}
    return OpenApiParameter(name, schema, OpenApiParameter.PATH, description=description)


LIST_ID = path_id("list_id", "Identifier used to locate the list.")
BODY_ERRORS = (400, 401, 404, 413, 415)


# --- The List resource ---------------------------------------------------------


@extend_schema_serializer(component_name="List")
class EmailListSerializer(ApiSerializer):
    listId = serializers.IntegerField(source="pk", read_only=True)
    listName = TextField(source="name", max_length=200)
    folderId = FolderIdField(source="folder_id", required=False)
    ipPoolId = UnsupportedId()
    bounceDomainAlias = UnsupportedText()
    bounceHandling = serializers.ChoiceField(
        source="bounce_handling", choices=BounceHandling.choices
    )
    bounceUnsubscribeCount = WholeNumberField(
        source="bounce_unsubscribe_count", min_value=1, max_value=100
    )
    createDate = serializers.DateTimeField(source="created_at", read_only=True)
    enableBrowserLink = UnsupportedBoolean()
    enableDoubleOptIn = TrueFalseField(source="double_opt_in", required=False)
    enableDynamicContent = UnsupportedBoolean()
    enableGoogleAnalytics = UnsupportedBoolean()
    enableInternationalization = UnsupportedBoolean()
    enableListHygiene = UnsupportedBoolean()
    enableListRemovalHeader = UnsupportedBoolean()
    enableListRemovalLink = UnsupportedBoolean()
    enableListrakAnalytics = UnsupportedBoolean()
    enableSpamScorePersonalization = UnsupportedBoolean()
    enableToNamePersonalization = UnsupportedBoolean()
    enableUniversalEmailKeySetting = UnsupportedBoolean()
    fromEmail = EmailAddressField(
        source="from_email", required=False, allow_blank=True, allow_null=True, max_length=254
    )
    fromName = TextField(
        source="from_name", required=False, allow_blank=True, allow_null=True, max_length=200
    )
    googleTrackingDomains = UnsupportedTextList()
    linkDomainAlias = UnsupportedText()
    mediaDomainAlias = UnsupportedText()
    timeZone = TimeZoneField(
        source="time_zone",
        required=False,
        help_text="The list's time zone, an IANA name such as America/New_York "
        "(not in Listrak's API: it decides calendar dates for this list).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kept = {key: value for key, value in attrs.items() if not self._unsupported(key)}
        for key in ("from_email", "from_name"):
            if key in kept and kept[key] is None:
                kept[key] = ""  # null and "" both mean "none"
        if "folder_id" in kept:
            folder_id = kept.pop("folder_id")
            kept["folder"] = Folder.objects.filter(pk=folder_id).first() if folder_id else None
            if folder_id and kept["folder"] is None:
                raise serializers.ValidationError({"folderId": f"There is no folder {folder_id}."})
        return kept

    def _unsupported(self, key: str) -> bool:
        return isinstance(self.fields.get(key), _Unsupported)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in ("fromEmail", "fromName"):
            data[key] = data[key] or None  # as Listrak: null when not set
        return data


class ListCollectionView(ApiView):
    required_scopes = (Scope.LIST,)

    @extend_schema(
        operation_id="List_GetListCollection",
        summary="Get all Lists",
        tags=["List"],
        responses=responses({200: collection(EmailListSerializer)}, 401),  # it reads no input
    )
    def get(self, request: Request) -> Response:
        lists = List.objects.order_by("name", "id")
        return self.ok(EmailListSerializer(lists, many=True).data)

    @extend_schema(
        operation_id="List_PostListResource",
        summary="Create a List",
        tags=["List"],
        request=EmailListSerializer,
        responses=responses({201: ResourceCreatedSerializer}, 400, 401, 413, 415),
    )
    def post(self, request: Request) -> Response:
        data = validated(EmailListSerializer, self.body(request))
        return self.created(create_list(**data).pk)


class ListResourceView(ApiView):
    required_scopes = (Scope.LIST,)

    @extend_schema(
        operation_id="List_GetListResourceById",
        summary="Get a List",
        tags=["List"],
        parameters=[LIST_ID],
        responses=responses({200: resource(EmailListSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        return self.ok(EmailListSerializer(self.get_list(list_id)).data)

    @extend_schema(
        operation_id="List_PutListResource",
        summary="Update a List",
        tags=["List"],
        parameters=[LIST_ID],
        request=EmailListSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(EmailListSerializer, self.body(request))
        # Settings left out of the body keep their value (timeZone is ours,
        # and a Listrak client never sends it).
        try:
            update_list(email_list=email_list, **data)
        except List.DoesNotExist:
            raise not_found("listId") from None
        return self.updated(email_list.pk)

    @extend_schema(
        operation_id="List_DeleteListResource",
        summary="Delete a List",
        tags=["List"],
        parameters=[LIST_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, list_id: str) -> Response:
        delete_list(email_list=self.get_list(list_id))
        return self.deleted()


urlpatterns = [
    route("List", ListCollectionView.as_view()),
    route("List/<list_id>", ListResourceView.as_view()),
]
