"""Who did what with a conversation's message: its ``Activity`` (one row per
contact it was sent to) and the ``Clicker`` list of one of its links."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.envelopes import PAGING, paged, responses
from api.errors import invalid
from api.paging import pk_page
from api.params import parse_period
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
from conductor.models import Conversation
from conductor.selectors import activity_by_delivery, link_clicks_between, sent_deliveries
from contacts.models import Activity, ActivityKind
from emails.models import Delivery

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


def _activity_kind(params: Any) -> str | None:
    """The activity kind ``activityType`` names; None when it is absent."""
    kind = (params.get("activityType") or "").strip().lower()
    if not kind:
        return None
    if kind not in ACTIVITY_TYPES:
        names = ", ".join(sorted(t.title() for t in ACTIVITY_TYPES))
        raise invalid("activityType", f"activityType is one of {names}.")
    return ACTIVITY_TYPES[kind]


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
    def get(self, request: Request, **path: str) -> Response:
        conversation, message = self.get_message(**path)
        params = request.query_params
        start, end = parse_period(params, conversation.list.zone)
        sent = sent_deliveries(
            conversation=conversation,
            message=message,
            start=start,
            end=end,
            with_activity=_activity_kind(params),
        )
        rows, cursor = pk_page(sent.select_related("contact"), params=params)
        return self.page(_activity_rows(conversation, rows), cursor)


def _activity_rows(conversation: Conversation, deliveries: list[Delivery]) -> list[dict]:
    """One row per delivery of the page, from one query over their activity."""
    by_delivery = activity_by_delivery(
        conversation=conversation, delivery_ids=[d.pk for d in deliveries]
    )
    rows = []
    for delivery in deliveries:
        activity = by_delivery.get(delivery.pk, [])
        kinds: dict[str, list[Activity]] = defaultdict(list)
        for row in activity:
            kinds[row.kind].append(row)
        bounces = kinds[ActivityKind.EMAIL_BOUNCED]
        seen = [a for a in activity if a.kind != ActivityKind.EMAIL_CONVERTED]
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
    def get(self, request: Request, **path: str) -> Response:
        conversation, link = self.get_link(**path)
        params = request.query_params
        start, end = parse_period(params, conversation.list.zone)
        clicks = link_clicks_between(
            conversation=conversation, link_id=link.pk, start=start, end=end
        )
        rows, cursor = pk_page(clicks, params=params)
        return self.page(
            [{"emailAddress": c.email, "clickDate": c.occurred_at} for c in rows], cursor
        )


urlpatterns = [
    route(f"{MESSAGE_ROUTE}/Activity", MessageActivityView.as_view()),
    route(
        f"{MESSAGE_ROUTE}/Link/<conversation_message_link_id>/Clicker", LinkClickerView.as_view()
    ),
]
