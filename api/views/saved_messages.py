"""``SavedMessage`` under ``List/{listId}``: messages kept to be sent as a
broadcast, as often as wanted. Sending one (``SavedMessage/{id}/Message``)
copies its message into a new broadcast (``broadcasts.services``), so
editing it afterwards changes no email sent."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, parse_id
from api.broadcast_writes import (
    SEND_PARAMETERS,
    SEND_UNAVAILABLE,
    UTF8_CODE_PAGE,
    MessageFieldsSerializer,
    create_saved_message,
    list_row,
    message_fields,
    send_options,
    send_test,
    update_saved_message,
)
from api.envelopes import (
    ResourceCreatedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import found, invalid, not_found
from api.routes import route
from api.scopes import Scope
from api.serializers import TextField, validated
from api.views.lists import BODY_ERRORS, LIST_ID, path_id
from broadcasts.models import Campaign, SavedMessage
from broadcasts.services import copy_message, send_saved_message

SAVED_MESSAGE_ID = path_id("saved_message_id", "Identifier used to locate the saved message.")
NOT_FOUND = "listId and savedMessageId"


@extend_schema_serializer(component_name="SavedMessage")
class SavedMessageSerializer(serializers.Serializer):
    savedMessageId = serializers.IntegerField()
    savedMessageName = serializers.CharField()
    campaignId = serializers.IntegerField(allow_null=True)
    createDate = serializers.DateTimeField()
    lastModifiedDate = serializers.DateTimeField()
    externalCampaignId = serializers.CharField(allow_null=True)
    subject = serializers.CharField()


@extend_schema_serializer(component_name="SavedMessageExtended")
class SavedMessageExtendedSerializer(serializers.Serializer):
    enableUniversalEmailKeySetting = serializers.BooleanField()
    savedMessageId = serializers.IntegerField()
    savedMessageName = serializers.CharField()
    campaignId = serializers.IntegerField(allow_null=True)
    bodyHtml = serializers.CharField()
    bodyText = serializers.CharField()
    codePage = serializers.IntegerField()
    createDate = serializers.DateTimeField()
    lastModifiedDate = serializers.DateTimeField()
    enablePassalong = serializers.BooleanField()
    enableTracking = serializers.BooleanField()
    externalCampaignId = serializers.CharField(allow_null=True)
    fromEmail = serializers.CharField()
    fromName = serializers.CharField()
    googleAnalyticsCampaignName = serializers.CharField(allow_null=True)
    googleAnalyticsCampaignContent = serializers.CharField(allow_null=True)
    replyEmail = serializers.CharField(allow_null=True)
    subject = serializers.CharField()
    toName = serializers.CharField(allow_null=True)
    preheader = serializers.CharField(
        allow_null=True,
        help_text="The preheader given when it was saved (not in Listrak's SavedMessageExtended).",
    )


class _SavedMessageFields(MessageFieldsSerializer):
    savedMessageName = TextField(source="name", max_length=200)
    preheader = TextField(required=False, allow_blank=True, allow_null=True, max_length=500)


@extend_schema_serializer(component_name="SavedMessageCreate")
class SavedMessageCreateSerializer(_SavedMessageFields):
    pass


@extend_schema_serializer(component_name="SavedMessageUpdate")
class SavedMessageUpdateSerializer(_SavedMessageFields):
    pass


def _summary_data(saved: SavedMessage) -> dict[str, Any]:
    return {
        "savedMessageId": saved.pk,
        "savedMessageName": saved.name,
        "campaignId": saved.campaign_id,
        "createDate": saved.created_at,
        "lastModifiedDate": saved.modified_at,
        "externalCampaignId": saved.external_campaign_id or None,
        "subject": saved.message.subject,
    }


def _extended_data(saved: SavedMessage) -> dict[str, Any]:
    message, email_list = saved.message, saved.list
    return {
        **_summary_data(saved),
        "enableUniversalEmailKeySetting": False,
        "bodyHtml": message.html_body,
        "bodyText": message.text_body,
        "codePage": UTF8_CODE_PAGE,
        "enablePassalong": True,
        "enableTracking": True,
        "fromEmail": message.from_email or email_list.from_email,
        "fromName": message.from_name or email_list.from_name,
        "googleAnalyticsCampaignName": None,
        "googleAnalyticsCampaignContent": None,
        "replyEmail": message.reply_email or None,
        "toName": None,
        "preheader": saved.preheader or None,
    }


def _written(data: dict[str, Any], email_list: Any) -> dict[str, Any]:
    """The saved message's own fields given in validated ``data``."""
    changes: dict[str, Any] = {"name": data["name"]}
    if "preheader" in data:
        changes["preheader"] = data["preheader"] or ""
    if "campaign_id" in data:
        changes["campaign"] = list_row(Campaign, email_list, data["campaign_id"], "campaignId")
    if "external_campaign_id" in data:
        changes["external_campaign_id"] = data["external_campaign_id"] or ""
    return changes


_schema = operation_schema("SavedMessage")


class _SavedMessageView(ApiView):
    required_scopes = (Scope.LIST, Scope.MESSAGE)
    session_permissions = ("broadcasts.view_savedmessage",)

    def get_saved_message(self, list_id: str, saved_message_id: str) -> SavedMessage:
        email_list = self.get_list(list_id)
        pk = parse_id(saved_message_id, "savedMessageId")
        saved = SavedMessage.objects.filter(pk=pk, list=email_list).select_related("message")
        return found(saved.first(), NOT_FOUND)


class SavedMessageCollectionView(_SavedMessageView):
    @_schema(
        "GetSavedMessageCollection",
        "Get all SavedMessages",
        parameters=[LIST_ID],
        responses=responses({200: collection(SavedMessageSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        saved = SavedMessage.objects.filter(list=self.get_list(list_id)).select_related("message")
        return self.ok([_summary_data(s) for s in saved.order_by("name", "id")])

    @_schema(
        "PostCreateSavedMessage",
        "Create a SavedMessage",
        parameters=[LIST_ID],
        request=SavedMessageCreateSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(SavedMessageCreateSerializer, self.body(request))
        saved = create_saved_message(
            email_list=email_list, message_fields=message_fields(data), **_written(data, email_list)
        )
        return self.created(saved.pk)


class SavedMessageResourceView(_SavedMessageView):
    @_schema(
        "GetSavedMessageResource",
        "Get a SavedMessage",
        parameters=[LIST_ID, SAVED_MESSAGE_ID],
        responses=responses({200: resource(SavedMessageExtendedSerializer)}),
    )
    def get(self, request: Request, list_id: str, saved_message_id: str) -> Response:
        return self.ok(_extended_data(self.get_saved_message(list_id, saved_message_id)))

    @_schema(
        "PutUpdateSavedMessage",
        "Update a SavedMessage",
        parameters=[LIST_ID, SAVED_MESSAGE_ID],
        request=SavedMessageUpdateSerializer,
        responses=responses({200: resource(SavedMessageExtendedSerializer)}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, saved_message_id: str) -> Response:
        saved = self.get_saved_message(list_id, saved_message_id)
        data = validated(SavedMessageUpdateSerializer, self.body(request))
        # Fields left out of the body keep their value, as a List's do.
        try:
            saved = update_saved_message(
                saved_message=saved,
                message_fields=message_fields(data),
                **_written(data, saved.list),
            )
        except SavedMessage.DoesNotExist:
            raise not_found(NOT_FOUND) from None
        return self.ok(_extended_data(saved))


class SavedMessageSendView(_SavedMessageView):
    """Listrak's route takes its options in the query string and no body;
    clients post it with none, or with an empty JSON object."""

    def _check_body_headers(self, request: Request) -> None:
        if _has_body(request):
            super()._check_body_headers(request)

    @_schema(
        "PostSavedMessageSend",
        "Send a SavedMessage",
        parameters=[LIST_ID, SAVED_MESSAGE_ID, *SEND_PARAMETERS],
        request=None,
        responses=responses({201: ResourceCreatedSerializer, **SEND_UNAVAILABLE}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str, saved_message_id: str) -> Response:
        saved = self.get_saved_message(list_id, saved_message_id)
        if _has_body(request) and request.data not in (None, {}):
            raise invalid(
                "body",
                "This route takes no body: give sendDate, sendTestMessage, sendReviewMessage "
                "and testEmailAddress in the query string.",
            )
        options = send_options(request.query_params, saved.list)
        with transaction.atomic():
            if options.test_address is not None:
                broadcast = send_test(
                    email_list=saved.list,
                    message=copy_message(saved.message),
                    address=options.test_address,
                    campaign=saved.campaign,
                    external_campaign_id=saved.external_campaign_id,
                )
            else:
                broadcast = send_saved_message(saved_message=saved, send_at=options.send_at)
        return self.created(broadcast.pk)


def _has_body(request: Request) -> bool:
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 1  # unreadable: let the body checks refuse it
    return length > 0 or "HTTP_TRANSFER_ENCODING" in meta


SAVED_MESSAGE_ROUTE = "List/<list_id>/SavedMessage/<saved_message_id>"
urlpatterns = [
    route("List/<list_id>/SavedMessage", SavedMessageCollectionView.as_view()),
    route(SAVED_MESSAGE_ROUTE, SavedMessageResourceView.as_view()),
    route(f"{SAVED_MESSAGE_ROUTE}/Message", SavedMessageSendView.as_view()),
]
