"""The list's ``Message`` resource: broadcasts (``broadcasts.models.Broadcast``),
each a message sent once to the list or to part of it. ``POST`` writes the
message and schedules its broadcast (or sends a test); ``GET`` reads them.
Their progress and reports are ``api.views.broadcast_reports``. As in
Listrak there is no way to change or cancel a broadcast here: staff do that
in the admin."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import parse_bool
from api.broadcast_writes import (
    SEND_PARAMETERS,
    SEND_UNAVAILABLE,
    UTF8_CODE_PAGE,
    MessageFieldsSerializer,
    OptionalIdField,
    list_row,
    message_fields,
    message_name,
    save_message,
    send_options,
    send_test,
)
from api.envelopes import (
    PAGING,
    ResourceCreatedSerializer,
    operation_schema,
    paged,
    resource,
    responses,
)
from api.errors import invalid
from api.message_reports import MessageSerializer
from api.paging import pk_page
from api.params import parse_period
from api.routes import route
from api.serializers import TextField, json_type, validated
from api.views import broadcast_reports
from api.views.broadcast_reports import MESSAGE_ID, MESSAGE_ROUTE, BroadcastView
from api.views.lists import (
    BODY_ERRORS,
    LIST_ID,
    UnsupportedBoolean,
    UnsupportedId,
    UnsupportedText,
)
from broadcasts.models import Broadcast, Campaign, SavedAudience
from broadcasts.services import create_broadcast, schedule_broadcast
from conductor.filters import parse_criteria
from contacts.selectors import within
from emails.models import Message
from lists.models import List

# --- Listrak settings of a message this server has one way only --------------------------


@extend_schema_field(
    {
        "type": "boolean",
        "nullable": True,
        "not": {"enum": [False]},
        "description": "Always true: every email of this server tracks opens and clicks "
        "and carries a pass-along link.",
    }
)
class AlwaysOnBoolean(UnsupportedBoolean):
    """``enableTracking`` and ``enablePassalong``: true, or left out; false
    asks for what this server does not do, and is refused."""

    neutral = True
    accepted = (True,)

    def to_internal_value(self, data: Any) -> None:
        if data is True:
            return None
        raise serializers.ValidationError(
            "Always true here: every email of this server tracks opens and clicks and carries "
            "a pass-along link. Send true or leave it out."
        )


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "nullable": True,
        "enum": [0, UTF8_CODE_PAGE],
        "description": "Always 65001 (UTF-8); 0 is accepted as the default.",
    }
)
class CodePageField(UnsupportedId):
    """``codePage``: UTF-8 (65001) always; 0, a .NET client's default, means it too."""

    neutral = UTF8_CODE_PAGE

    def to_internal_value(self, data: Any) -> None:
        if type(data) is int and data in (0, UTF8_CODE_PAGE):
            return None
        raise serializers.ValidationError(
            "Every email of this server is UTF-8 (code page 65001): send 65001, 0 or null, "
            "or leave it out."
        )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "object", "additionalProperties": True},
            {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        ],
        "nullable": True,
        "description": "Listrak's Filter: who of the list's subscribed contacts get the "
        "message (segmentationFieldGroup, segmentationField or segmentationFieldId, "
        "compareType, values, joinType, nested filters); an array is a set of filters. "
        "Everyone when left out.",
    }
)
class FilterField(serializers.JSONField):
    """Any JSON here; ``_criteria`` reads it as Listrak's Filter, naming each problem."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_null=True, **kwargs)


# --- Shapes ----------------------------------------------------------------------------------


@extend_schema_serializer(component_name="MessageExtendedFilter")
class MessageExtendedFilterSerializer(MessageFieldsSerializer):
    messageId = serializers.IntegerField(read_only=True)
    sendDate = serializers.DateTimeField(read_only=True)
    messageStatus = serializers.CharField(read_only=True)
    enableUniversalEmailKeySetting = UnsupportedBoolean()
    codePage = CodePageField()
    enablePassalong = AlwaysOnBoolean()
    enableTracking = AlwaysOnBoolean()
    googleAnalyticsCampaignName = TextField(
        source="google_analytics_campaign_name",
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
    )
    googleAnalyticsCampaignContent = UnsupportedText()
    savedAudienceId = OptionalIdField(source="saved_audience_id")
    toName = UnsupportedText()
    filter = FilterField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("filter") not in (None, [], {}) and attrs.get("saved_audience_id"):
            raise serializers.ValidationError(
                "Choose who gets the message with filter or savedAudienceId, not both."
            )
        return attrs


class SegmentsAppliedSerializer(serializers.Serializer):
    includedSegments = serializers.ListField(child=serializers.CharField())
    excludedSegments = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(component_name="MessageExtendedSegmentsApplied")
class MessageExtendedSegmentsAppliedSerializer(MessageSerializer):
    enableUniversalEmailKeySetting = serializers.BooleanField()
    bodyHtml = serializers.CharField()
    bodyText = serializers.CharField()
    codePage = serializers.IntegerField()
    enablePassalong = serializers.BooleanField()
    enableTracking = serializers.BooleanField()
    fromEmail = serializers.CharField()
    fromName = serializers.CharField()
    googleAnalyticsCampaignName = serializers.CharField(allow_null=True)
    googleAnalyticsCampaignContent = serializers.CharField(allow_null=True)
    replyEmail = serializers.CharField(allow_null=True)
    savedAudienceId = serializers.IntegerField(allow_null=True)
    segmentsApplied = SegmentsAppliedSerializer()
    toName = serializers.CharField(allow_null=True)


def message_data(broadcast: Broadcast) -> dict[str, Any]:
    """A broadcast as Listrak's ``Message``: the subject it was (or will be) sent with."""
    shown = broadcast.content or broadcast.message
    return {
        "messageId": broadcast.pk,
        "sendDate": broadcast.send_at,
        "messageStatus": broadcast.get_status_display(),
        "campaignId": broadcast.campaign_id,
        "externalCampaignId": broadcast.external_campaign_id or None,
        "subject": shown.subject,
    }


def _extended_data(broadcast: Broadcast) -> dict[str, Any]:
    shown = broadcast.content or broadcast.message
    email_list = broadcast.list
    audience = broadcast.saved_audience
    return {
        **message_data(broadcast),
        "enableUniversalEmailKeySetting": False,
        "bodyHtml": shown.html_body,
        "bodyText": shown.text_body,
        "codePage": UTF8_CODE_PAGE,
        "enablePassalong": True,
        "enableTracking": True,
        "fromEmail": shown.from_email or email_list.from_email,
        "fromName": shown.from_name or email_list.from_name,
        "googleAnalyticsCampaignName": broadcast.google_analytics_campaign_name or None,
        "googleAnalyticsCampaignContent": None,
        "replyEmail": broadcast.message.reply_email or None,
        "savedAudienceId": broadcast.saved_audience_id,
        "segmentsApplied": {
            "includedSegments": [audience.name] if audience is not None else [],
            "excludedSegments": [],
        },
        "toName": None,
    }


# --- Reading the body --------------------------------------------------------------------


def _criteria(email_list: List, raw: Any) -> dict[str, Any]:
    """Listrak's ``filter`` (an object, or an array: a set of filters) as
    filter criteria, checked against the list's profile fields."""
    if raw in (None, [], {}):
        return {}
    if isinstance(raw, list):
        data, prefix = {"filters": raw}, "filter"
    elif isinstance(raw, dict):
        data, prefix = raw, "filter."
    else:
        raise invalid(
            "filter",
            f"filter is a Listrak Filter object (or an array of them), not {json_type(raw)}.",
        )
    if "\\u0000" in json.dumps(raw):  # PostgreSQL's JSON cannot hold it
        raise invalid("filter", "filter holds a NUL character (\\u0000), which no value can hold.")
    try:
        return parse_criteria(email_list, data).to_settings()
    except ValidationError as error:
        problems = [_filter_path(message, prefix) for message in error.messages]
        raise invalid("filter", " ".join(problems)) from None


def _filter_path(message: str, prefix: str) -> str:
    """A criteria problem (``filters[1].values: …``) named from the body's ``filter``."""
    if message.startswith("filter:"):
        return message
    if prefix == "filter":  # the array was the set's filters
        return "filter" + message.removeprefix("filters")
    return prefix + message


# --- Views -------------------------------------------------------------------------------

_schema = operation_schema("Message")


class MessageCollectionView(BroadcastView):
    @_schema(
        "GetMessageCollection",
        "Get all Messages",
        parameters=[
            LIST_ID,
            *PAGING,
            OpenApiParameter("startDate", str, description="Sent (or to be sent) from this date."),
            OpenApiParameter("endDate", str, description="Sent (or to be sent) until this date."),
            OpenApiParameter("includeTestMessages", bool),
        ],
        responses=responses({200: paged(MessageSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        params = request.query_params
        start, end = parse_period(params, email_list.zone)
        broadcasts = within(
            Broadcast.objects.filter(list=email_list), column="send_at", start=start, end=end
        )
        if not parse_bool(params, "includeTestMessages"):
            broadcasts = broadcasts.filter(is_test=False)
        rows, cursor = pk_page(broadcasts.select_related("content", "message"), params=params)
        return self.page([message_data(b) for b in rows], cursor)

    @_schema(
        "PostMessageResource",
        "Send a Message",
        parameters=[LIST_ID, *SEND_PARAMETERS],
        request=MessageExtendedFilterSerializer,
        responses=responses({201: ResourceCreatedSerializer, **SEND_UNAVAILABLE}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(MessageExtendedFilterSerializer, self.body(request))
        options = send_options(request.query_params, email_list)
        criteria = _criteria(email_list, data.get("filter"))
        audience = list_row(
            SavedAudience, email_list, data.get("saved_audience_id"), "savedAudienceId"
        )
        campaign = list_row(Campaign, email_list, data.get("campaign_id"), "campaignId")
        fields = message_fields(data)
        about = {
            "email_list": email_list,
            "campaign": campaign,
            "external_campaign_id": data.get("external_campaign_id") or "",
            "google_analytics_campaign_name": data.get("google_analytics_campaign_name") or "",
        }
        with transaction.atomic():
            message = save_message(
                Message(list=email_list, name=message_name(fields["subject"]), **fields)
            )
            if options.test_address is not None:
                broadcast = send_test(message=message, address=options.test_address, **about)
            else:
                broadcast = create_broadcast(
                    name=message.name,
                    message=message,
                    criteria=criteria,
                    saved_audience=audience,
                    **about,
                )
                schedule_broadcast(broadcast=broadcast, send_at=options.send_at)
        return self.created(broadcast.pk)


class MessageResourceView(BroadcastView):
    @_schema(
        "GetMessageResource",
        "Get a Message",
        parameters=[LIST_ID, MESSAGE_ID],
        responses=responses({200: resource(MessageExtendedSegmentsAppliedSerializer)}),
    )
    def get(self, request: Request, list_id: str, message_id: str) -> Response:
        broadcast = self.get_broadcast(list_id, message_id)
        return self.ok(_extended_data(broadcast))


urlpatterns = [
    route("List/<list_id>/Message", MessageCollectionView.as_view()),
    route(MESSAGE_ROUTE, MessageResourceView.as_view()),
    *broadcast_reports.urlpatterns,
]
