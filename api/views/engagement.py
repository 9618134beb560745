"""Who did what with a conversation's message: its ``Activity`` (one row per
contact it was sent to) and the ``Clicker`` list of one of its links."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Exists, IntegerField, OuterRef, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import parse_id
from api.envelopes import PAGING, paged, responses
from api.errors import invalid, not_found
from api.paging import keyset_page
from api.params import parse_moment
from api.routes import route
from api.scopes import Scope
from api.views.conversations import (
    CONVERSATION_ID,
    LINK_ID,
    MESSAGE_ID,
    MESSAGE_ROUTE,
    ConversationBaseView,
    conversation_schema,
)
from api.views.lists import LIST_ID
from conductor.models import Conversation, Delivery, DeliveryStatus, Message, MessageLink
from contacts.models import Activity, ActivityKind

DATES = [OpenApiParameter("startDate", str), OpenApiParameter("endDate", str)]
#: ``activityType`` → the activity kind a contact must have for its row to be listed.
ACTIVITY_TYPES = {
    "open": ActivityKind.EMAIL_OPENED,
    "click": ActivityKind.EMAIL_CLICKED,
    "bounce": ActivityKind.EMAIL_BOUNCED,
    "abuse": ActivityKind.EMAIL_SPAM,
    "unsubscribe": ActivityKind.UNSUBSCRIBED,
    "conversion": ActivityKind.EMAIL_CONVERTED,
}


@extend_schema_serializer(component_name="MessageActivity")
class MessageActivitySerializer(serializers.Serializer):
    abuse = serializers.BooleanField()
    activityDate = serializers.DateTimeField(allow_null=True)
    bounce = serializers.BooleanField()
    bounceReason = serializers.CharField()
    click = serializers.BooleanField()
    clickCount = serializers.IntegerField()
    emailAddress = serializers.EmailField()
    open = serializers.BooleanField()
    orderTotal = serializers.FloatField()
    read = serializers.BooleanField()
    sendDate = serializers.DateTimeField(allow_null=True)
    unsubscribe = serializers.BooleanField()
    visitDate = serializers.DateTimeField(allow_null=True)
    externalContactID = serializers.CharField()


@extend_schema_serializer(component_name="MessageLinkClicker")
class MessageLinkClickerSerializer(serializers.Serializer):
    emailAddress = serializers.EmailField()
    clickDate = serializers.DateTimeField()


def _email_activity(conversation: Conversation) -> QuerySet[Activity]:
    return Activity.objects.filter(
        list_id=conversation.list_id,
        kind__in=list(ACTIVITY_TYPES.values()),
        details__conversation_id=conversation.pk,
    ).annotate(delivery=Cast(KeyTextTransform("delivery_id", "details"), IntegerField()))


class MessageActivityView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @conversation_schema(
        "GetConversationMessageActivityCollection",
        "Get all Conversation Message Activity",
        parameters=[
            LIST_ID,
            CONVERSATION_ID,
            MESSAGE_ID,
            OpenApiParameter("activityType", str, enum=sorted(t.title() for t in ACTIVITY_TYPES)),
            *PAGING,
            *DATES,
        ],
        responses=responses({200: paged(MessageActivitySerializer)}),
    )
    def get(
        self, request: Request, list_id: str, conversation_id: str, conversation_message_id: str
    ) -> Response:
        conversation = self.get_conversation(list_id, conversation_id)
        message = self.get_message(conversation, conversation_message_id)
        params = request.query_params
        sent = _sent(conversation, message, params)
        kind = (params.get("activityType") or "").strip().lower()
        if kind:
            if kind not in ACTIVITY_TYPES:
                names = ", ".join(sorted(t.title() for t in ACTIVITY_TYPES))
                raise invalid("activityType", f"activityType is one of {names}.")
            had = _email_activity(conversation).filter(
                kind=ACTIVITY_TYPES[kind], delivery=OuterRef("pk")
            )
            sent = sent.filter(Exists(had))
        rows, cursor = keyset_page(
            sent.select_related("contact"),
            params=params,
            key=["pk"],
            after=lambda qs, start: qs.filter(pk__gt=int(start[0])),
            key_of=lambda delivery: [delivery.pk],
        )
        return self.page(_activity_rows(conversation, rows), cursor)


def _sent(conversation: Conversation, message: Message, params: Any) -> QuerySet[Delivery]:
    zone = conversation.list.zone
    sent = Delivery.objects.filter(
        step_run__enrollment__conversation=conversation,
        message=message,
        status=DeliveryStatus.SENT,
    )
    start = parse_moment(params, "startDate", zone, end_of_day=False)
    end = parse_moment(params, "endDate", zone, end_of_day=True)
    if start is not None:
        sent = sent.filter(sent_at__gte=start)
    if end is not None:
        sent = sent.filter(sent_at__lte=end)
    return sent


def _activity_rows(conversation: Conversation, deliveries: list[Delivery]) -> list[dict]:
    """One row per delivery of the page, from one query over their activity."""
    by_delivery: dict[int, list[Activity]] = defaultdict(list)
    for activity in (
        _email_activity(conversation)
        .filter(delivery__in=[d.pk for d in deliveries])
        .order_by("occurred_at", "pk")
    ):
        by_delivery[activity.delivery].append(activity)
    rows = []
    for delivery in deliveries:
        kinds: dict[str, list[Activity]] = defaultdict(list)
        for activity in by_delivery[delivery.pk]:
            kinds[activity.kind].append(activity)
        bounces = kinds[ActivityKind.EMAIL_BOUNCED]
        seen = [a for a in by_delivery[delivery.pk] if a.kind != ActivityKind.EMAIL_CONVERTED]
        rows.append(
            {
                "abuse": bool(kinds[ActivityKind.EMAIL_SPAM]),
                "activityDate": seen[0].occurred_at if seen else None,
                "bounce": bool(bounces),
                "bounceReason": bounces[-1].details.get("reason", "") if bounces else "",
                "click": bool(kinds[ActivityKind.EMAIL_CLICKED]),
                "clickCount": len(kinds[ActivityKind.EMAIL_CLICKED]),
                "emailAddress": delivery.contact.email,
                "open": bool(kinds[ActivityKind.EMAIL_OPENED]),
                "orderTotal": _order_total(kinds[ActivityKind.EMAIL_CONVERTED]),
                "read": False,  # not measured here
                "sendDate": delivery.sent_at,
                "unsubscribe": bool(kinds[ActivityKind.UNSUBSCRIBED]),
                "visitDate": None,
                "externalContactID": "",
            }
        )
    return rows


def _order_total(conversions: list[Activity]) -> float:
    return round(sum(float(a.details.get("order_total") or 0) for a in conversions), 2)


class LinkClickerView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @conversation_schema(
        "GetConversationMessageLinkClickerCollection",
        "Get all Conversation Message Link Clickers",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID, LINK_ID, *PAGING, *DATES],
        responses=responses({200: paged(MessageLinkClickerSerializer)}),
    )
    def get(
        self,
        request: Request,
        list_id: str,
        conversation_id: str,
        conversation_message_id: str,
        conversation_message_link_id: str,
    ) -> Response:
        conversation = self.get_conversation(list_id, conversation_id)
        message = self.get_message(conversation, conversation_message_id)
        pk = parse_id(conversation_message_link_id, "conversationMessageLinkId")
        if not MessageLink.objects.filter(pk=pk, message=message).exists():
            raise not_found("conversationMessageId and conversationMessageLinkId")
        params = request.query_params
        zone = conversation.list.zone
        clicks = Activity.objects.filter(
            list_id=conversation.list_id,
            kind=ActivityKind.EMAIL_CLICKED,
            details__conversation_id=conversation.pk,
            details__link_id=pk,
        )
        start = parse_moment(params, "startDate", zone, end_of_day=False)
        end = parse_moment(params, "endDate", zone, end_of_day=True)
        if start is not None:
            clicks = clicks.filter(occurred_at__gte=start)
        if end is not None:
            clicks = clicks.filter(occurred_at__lte=end)
        rows, cursor = keyset_page(
            clicks,
            params=params,
            key=["pk"],
            after=lambda qs, start: qs.filter(pk__gt=int(start[0])),
            key_of=lambda click: [click.pk],
        )
        return self.page(
            [{"emailAddress": c.email, "clickDate": c.occurred_at} for c in rows], cursor
        )


urlpatterns = [
    route(f"{MESSAGE_ROUTE}/Activity", MessageActivityView.as_view()),
    route(
        f"{MESSAGE_ROUTE}/Link/<conversation_message_link_id>/Clicker", LinkClickerView.as_view()
    ),
]
