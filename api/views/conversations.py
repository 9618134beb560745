"""Conversation reports under ``List/{listId}/Conversation``: the
conversations, the messages they send, their links, and the
``ConversationSummary`` / ``MessageSummary`` figures (``conductor.reports``).
Read-only, as in Listrak."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, parse_bool, parse_id
from api.envelopes import PAGING, collection, operation_schema, paged, resource, responses
from api.errors import found
from api.message_reports import (
    MessageLinkSerializer,
    MessageSerializer,
    MessageSummarySerializer,
    SummaryFields,
    link_data,
    message_summary_data,
    summary_data,
)
from api.paging import pk_page
from api.routes import route
from api.scopes import Scope
from api.views.lists import LIST_ID, path_id
from conductor.models import Conversation
from conductor.reports import (
    Summary,
    conversation_messages,
    conversation_summary,
    link_clicks,
    message_summaries,
)
from conductor.selectors import first_sent_at
from emails.models import Message, MessageLink

CONVERSATION_ID = path_id("conversation_id", "Identifier used to locate the conversation.")
MESSAGE_ID = path_id("conversation_message_id", "Identifier used to locate the message.")
LINK_ID = path_id("conversation_message_link_id", "Identifier used to locate the link.")


@extend_schema_serializer(component_name="Conversation")
class ConversationSerializer(serializers.Serializer):
    conversationId = serializers.IntegerField()
    conversationName = serializers.CharField()
    campaignId = serializers.IntegerField(allow_null=True)
    expirationDate = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField()


@extend_schema_serializer(component_name="ConversationSummary")
class ConversationSummarySerializer(SummaryFields):
    deliveredCount = serializers.IntegerField()


@extend_schema_serializer(component_name="MessageExtended")
class MessageExtendedSerializer(MessageSerializer):
    bodyHtml = serializers.CharField()
    bodyText = serializers.CharField()
    fromEmail = serializers.CharField()
    fromName = serializers.CharField()
    enableTracking = serializers.BooleanField()
    enablePassalong = serializers.BooleanField()


def _conversation_data(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversationId": conversation.pk,
        "conversationName": conversation.name,
        "campaignId": None,
        "expirationDate": None,
        "status": conversation.status,
    }


conversation_schema = operation_schema("Conversation")
conversation_message_schema = operation_schema("ConversationMessage")
conversation_link_schema = operation_schema("ConversationMessageLink")


class ConversationBaseView(ApiView):
    required_scopes: tuple[str, ...] = (Scope.LIST,)
    session_permissions = ("conductor.view_conversation",)

    def get_conversation(self, list_id: str, conversation_id: str) -> Conversation:
        return self.get_in_list(Conversation, list_id, conversation_id, "conversationId")

    def get_message(
        self, list_id: str, conversation_id: str, conversation_message_id: str
    ) -> tuple[Conversation, Message]:
        """The conversation and one of the messages it sends or has sent."""
        conversation = self.get_conversation(list_id, conversation_id)
        pk = parse_id(conversation_message_id, "conversationMessageId")
        message = conversation_messages(conversation, previous_versions=True).filter(pk=pk).first()
        return conversation, found(message, "conversationId and conversationMessageId")

    def get_link(
        self,
        list_id: str,
        conversation_id: str,
        conversation_message_id: str,
        conversation_message_link_id: str,
    ) -> tuple[Conversation, MessageLink]:
        """The conversation and a link of one of its messages."""
        conversation, message = self.get_message(list_id, conversation_id, conversation_message_id)
        pk = parse_id(conversation_message_link_id, "conversationMessageLinkId")
        link = MessageLink.objects.filter(pk=pk, message=message).first()
        return conversation, found(link, "conversationMessageId and conversationMessageLinkId")


def _message_data(conversation: Conversation, message: Message) -> dict[str, Any]:
    return {
        "messageId": message.pk,
        "sendDate": first_sent_at(conversation=conversation, message=message),
        "messageStatus": "Active",
        "campaignId": None,
        "externalCampaignId": None,
        "subject": message.subject,
    }


class ConversationCollectionView(ConversationBaseView):
    @conversation_schema(
        "GetConversationCollection",
        "Get all Conversations",
        parameters=[LIST_ID],
        responses=responses({200: collection(ConversationSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        conversations = Conversation.objects.filter(list=self.get_list(list_id)).order_by("pk")
        return self.ok([_conversation_data(c) for c in conversations])


class ConversationView(ConversationBaseView):
    @conversation_schema(
        "GetConversationResource",
        "Get a Conversation",
        parameters=[LIST_ID, CONVERSATION_ID],
        responses=responses({200: resource(ConversationSerializer)}),
    )
    def get(self, request: Request, list_id: str, conversation_id: str) -> Response:
        return self.ok(_conversation_data(self.get_conversation(list_id, conversation_id)))


class ConversationSummaryView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.REPORT)

    @operation_schema("ConversationSummary")(
        "GetConversationSummaryResource",
        "Get Conversation Summary",
        parameters=[LIST_ID, CONVERSATION_ID],
        responses=responses({200: resource(ConversationSummarySerializer)}),
    )
    def get(self, request: Request, list_id: str, conversation_id: str) -> Response:
        summary = conversation_summary(self.get_conversation(list_id, conversation_id))
        return self.ok({**summary_data(summary), "deliveredCount": summary.delivered})


class MessageCollectionView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE)

    @conversation_message_schema(
        "GetConversationMessageCollection",
        "Get all Conversation Messages",
        parameters=[
            LIST_ID,
            CONVERSATION_ID,
            *PAGING,
            OpenApiParameter("includePreviousVersions", bool),
        ],
        responses=responses({200: paged(MessageSerializer)}),
    )
    def get(self, request: Request, list_id: str, conversation_id: str) -> Response:
        conversation = self.get_conversation(list_id, conversation_id)
        params = request.query_params
        previous = parse_bool(params, "includePreviousVersions")
        messages = conversation_messages(conversation, previous_versions=previous)
        rows, cursor = pk_page(messages, params=params)
        return self.page([_message_data(conversation, m) for m in rows], cursor)


class MessageView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE)

    @conversation_message_schema(
        "GetConversationMessageResource",
        "Get a Conversation Message",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID],
        responses=responses({200: resource(MessageExtendedSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        conversation, message = self.get_message(**path)
        email_list = conversation.list
        return self.ok(
            {
                **_message_data(conversation, message),
                "bodyHtml": message.html_body,
                "bodyText": message.text_body,
                "fromEmail": message.from_email or email_list.from_email,
                "fromName": message.from_name or email_list.from_name,
                "enableTracking": True,
                "enablePassalong": True,
            }
        )


class MessageSummaryView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("ConversationMessageSummary")(
        "GetMessageSummaryResource",
        "Get Conversation Message Summary",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID],
        responses=responses({200: resource(MessageSummarySerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        conversation, message = self.get_message(**path)
        summary = message_summaries(conversation).get(message.pk, Summary())
        return self.ok(message_summary_data(summary))


class LinkCollectionView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @conversation_link_schema(
        "GetConversationMessageLinkCollection",
        "Get all Conversation Message Links",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID, *PAGING],
        responses=responses({200: paged(MessageLinkSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        conversation, message = self.get_message(**path)
        links = MessageLink.objects.filter(message=message)
        rows, cursor = pk_page(links, params=request.query_params)
        clicks = link_clicks(conversation, message.pk)
        return self.page([link_data(link, clicks) for link in rows], cursor)


class LinkView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @conversation_link_schema(
        "GetConversationMessageLinkResource",
        "Get a Conversation Message Link",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID, LINK_ID],
        responses=responses({200: resource(MessageLinkSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        conversation, link = self.get_link(**path)
        return self.ok(link_data(link, link_clicks(conversation, link.message_id)))


CONVERSATION_ROUTE = "List/<list_id>/Conversation/<conversation_id>"
MESSAGE_ROUTE = f"{CONVERSATION_ROUTE}/Message/<conversation_message_id>"
urlpatterns = [
    route("List/<list_id>/Conversation", ConversationCollectionView.as_view()),
    route(CONVERSATION_ROUTE, ConversationView.as_view()),
    route(f"{CONVERSATION_ROUTE}/Summary", ConversationSummaryView.as_view()),
    route(f"{CONVERSATION_ROUTE}/Message", MessageCollectionView.as_view()),
    route(MESSAGE_ROUTE, MessageView.as_view()),
    route(f"{MESSAGE_ROUTE}/Summary", MessageSummaryView.as_view()),
    route(f"{MESSAGE_ROUTE}/Link", LinkCollectionView.as_view()),
    route(f"{MESSAGE_ROUTE}/Link/<conversation_message_link_id>", LinkView.as_view()),
]
