"""A broadcast's progress and reports under ``List/{listId}/Message/{id}``:
its ``Status``, ``Summary``, ``Activity`` (a row per contact it was sent
to), its ``Link``s and each link's ``Clicker``s, read from
``broadcasts.reports``. Also the view every ``Message`` route builds on."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Exists, OuterRef, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, parse_id
from api.envelopes import PAGING, operation_schema, paged, resource, responses
from api.errors import found, invalid
from api.message_reports import (
    ACTIVITY_TYPE,
    DATES,
    MessageActivitySerializer,
    MessageLinkClickerSerializer,
    MessageLinkSerializer,
    MessageSummarySerializer,
    activity_kind,
    activity_rows,
    clicker_rows,
    link_data,
    message_summary_data,
)
from api.paging import pk_page
from api.params import parse_period
from api.routes import route
from api.scopes import Scope
from api.views.lists import LIST_ID, path_id
from broadcasts.audiences import REMAINDER
from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.reports import (
    activity_by_delivery,
    email_activity,
    link_clicks,
    link_clicks_between,
    sent_deliveries,
    status_counts,
    summary,
)
from contacts.selectors import within
from emails.models import Delivery, DeliveryStatus, MessageLink

MESSAGE_ID = path_id("message_id", "Identifier used to locate the message.")
LINK_ID = path_id("message_link_id", "Identifier used to locate the link.")
MESSAGE_ROUTE = "List/<list_id>/Message/<message_id>"

#: ``MessageStatus.type``: what kind of send the broadcast is.
SEND_TYPES = ("Standard", "Test", "SplitTestGroup", "SplitTestRemainder")


@extend_schema_serializer(component_name="MessageStatus")
class MessageStatusSerializer(serializers.Serializer):
    sendCount = serializers.IntegerField()
    startDate = serializers.DateTimeField(allow_null=True)
    endDate = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=BroadcastStatus.values)
    type = serializers.ChoiceField(choices=SEND_TYPES)


def send_type(broadcast: Broadcast) -> str:
    if broadcast.is_test:
        return "Test"
    if broadcast.split_test_id is not None:
        return "SplitTestRemainder" if broadcast.split_group == REMAINDER else "SplitTestGroup"
    return "Standard"


class BroadcastView(ApiView):
    required_scopes: tuple[str, ...] = (Scope.LIST, Scope.MESSAGE)
    session_permissions = ("broadcasts.view_broadcast",)

    def get_broadcast(self, list_id: str, message_id: str) -> Broadcast:
        return self.get_in_list(Broadcast, list_id, message_id, "messageId")

    def get_link(
        self, list_id: str, message_id: str, message_link_id: str
    ) -> tuple[Broadcast, MessageLink]:
        """The broadcast and a link of its message."""
        broadcast = self.get_broadcast(list_id, message_id)
        pk = parse_id(message_link_id, "messageLinkId")
        link = MessageLink.objects.filter(pk=pk, message_id=broadcast.message_id).first()
        return broadcast, found(link, "listId, messageId, and messageLinkId")


class MessageStatusView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageStatus")(
        "GetMessageStatusResource",
        "Get a Message Status",
        parameters=[LIST_ID, MESSAGE_ID],
        responses=responses({200: resource(MessageStatusSerializer)}),
    )
    def get(self, request: Request, list_id: str, message_id: str) -> Response:
        broadcast = self.get_broadcast(list_id, message_id)
        sent = status_counts(broadcast).get(DeliveryStatus.SENT, 0)
        return self.ok(
            {
                "sendCount": broadcast.recipients if broadcast.is_test else sent,
                "startDate": broadcast.started_at,
                "endDate": broadcast.finished_at or broadcast.cancelled_at,
                "status": broadcast.get_status_display(),
                "type": send_type(broadcast),
            }
        )


class MessageSummaryView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageSummary")(
        "GetMessageSummaryResource",
        "Get Message Summary",
        parameters=[LIST_ID, MESSAGE_ID],
        responses=responses({200: resource(MessageSummarySerializer)}),
    )
    def get(self, request: Request, list_id: str, message_id: str) -> Response:
        return self.ok(message_summary_data(summary(self.get_broadcast(list_id, message_id))))


#: ``dateType``: which date ``startDate`` and ``endDate`` bound.
DATE_TYPES = ("Send", "Activity")


class MessageActivityView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageActivity")(
        "GetMessageActivityCollection",
        "Get Message Activity",
        parameters=[
            LIST_ID,
            MESSAGE_ID,
            ACTIVITY_TYPE,
            OpenApiParameter(
                "dateType",
                str,
                enum=list(DATE_TYPES),
                description="Whether startDate and endDate bound the send date (Send, the "
                "default) or the date of the contact's activity (Activity).",
            ),
            *PAGING,
            *DATES,
            OpenApiParameter("emailAddress", {"type": "string", "format": "email"}),
        ],
        responses=responses({200: paged(MessageActivitySerializer)}),
    )
    def get(self, request: Request, list_id: str, message_id: str) -> Response:
        broadcast = self.get_broadcast(list_id, message_id)
        params = request.query_params
        rows, cursor = pk_page(
            _activity_deliveries(broadcast, params).select_related("contact"), params=params
        )
        by_delivery = activity_by_delivery(broadcast, [d.pk for d in rows])
        return self.page(activity_rows(rows, by_delivery), cursor)


def _activity_deliveries(broadcast: Broadcast, params: Any) -> QuerySet[Delivery]:
    """The sent emails an ``Activity`` request asks for."""
    kind = activity_kind(params)
    start, end = parse_period(params, broadcast.list.zone)
    date_type = (params.get("dateType") or "Send").strip().lower()
    if date_type not in ("send", "activity"):
        raise invalid("dateType", f"dateType is Send or Activity, not {params['dateType']!r}.")
    if date_type == "send":
        sent = sent_deliveries(broadcast, start=start, end=end, with_activity=kind)
    else:
        sent = sent_deliveries(broadcast, with_activity=kind)
        if start is not None or end is not None:
            had = email_activity(broadcast).filter(delivery=OuterRef("pk"))
            if kind is not None:
                had = had.filter(kind=kind)
            sent = sent.filter(Exists(within(had, column="occurred_at", start=start, end=end)))
    address = (params.get("emailAddress") or "").strip()
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise invalid("emailAddress", f"{address!r} is not an email address.") from None
        sent = sent.filter(contact__email=address.lower())
    return sent


class MessageLinkCollectionView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageLink")(
        "GetMessageLinkCollection",
        "Get all Message Links",
        parameters=[LIST_ID, MESSAGE_ID, *PAGING],
        responses=responses({200: paged(MessageLinkSerializer)}),
    )
    def get(self, request: Request, list_id: str, message_id: str) -> Response:
        broadcast = self.get_broadcast(list_id, message_id)
        links = MessageLink.objects.filter(message_id=broadcast.message_id)
        rows, cursor = pk_page(links, params=request.query_params)
        clicks = link_clicks(broadcast)
        return self.page([link_data(link, clicks) for link in rows], cursor)


class MessageLinkView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageLink")(
        "GetMessageLinkResource",
        "Get a Message Link",
        parameters=[LIST_ID, MESSAGE_ID, LINK_ID],
        responses=responses({200: resource(MessageLinkSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        broadcast, link = self.get_link(**path)
        return self.ok(link_data(link, link_clicks(broadcast)))


class MessageLinkClickerView(BroadcastView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("MessageLinkClicker")(
        "GetMessageLinkClickerCollection",
        "Get all Message Link Clickers",
        parameters=[LIST_ID, MESSAGE_ID, LINK_ID, *PAGING, *DATES],
        responses=responses({200: paged(MessageLinkClickerSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        broadcast, link = self.get_link(**path)
        params = request.query_params
        start, end = parse_period(params, broadcast.list.zone)
        clicks = link_clicks_between(broadcast, link_id=link.pk, start=start, end=end)
        rows, cursor = pk_page(clicks, params=params)
        return self.page(clicker_rows(rows), cursor)


urlpatterns = [
    route(f"{MESSAGE_ROUTE}/Status", MessageStatusView.as_view()),
    route(f"{MESSAGE_ROUTE}/Summary", MessageSummaryView.as_view()),
    route(f"{MESSAGE_ROUTE}/Activity", MessageActivityView.as_view()),
    route(f"{MESSAGE_ROUTE}/Link", MessageLinkCollectionView.as_view()),
    route(f"{MESSAGE_ROUTE}/Link/<message_link_id>", MessageLinkView.as_view()),
    route(f"{MESSAGE_ROUTE}/Link/<message_link_id>/Clicker", MessageLinkClickerView.as_view()),
]
