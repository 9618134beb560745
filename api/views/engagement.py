"""Who did what with a conversation's message: its ``Activity`` (one row per
contact it was sent to) and the ``Clicker`` list of one of its links."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from api.envelopes import PAGING, operation_schema, paged, responses
from api.message_reports import (
    ACTIVITY_TYPE,
    DATES,
    MessageActivitySerializer,
    MessageLinkClickerSerializer,
    activity_kind,
    activity_rows,
    clicker_rows,
)
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
)
from api.views.lists import LIST_ID
from conductor.selectors import activity_by_delivery, link_clicks_between, sent_deliveries


class MessageActivityView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("ConversationMessageActivity")(
        "GetConversationMessageActivityCollection",
        "Get all Conversation Message Activity",
        parameters=[LIST_ID, CONVERSATION_ID, MESSAGE_ID, ACTIVITY_TYPE, *PAGING, *DATES],
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
            with_activity=activity_kind(params),
        )
        rows, cursor = pk_page(sent.select_related("contact"), params=params)
        by_delivery = activity_by_delivery(
            conversation=conversation, delivery_ids=[d.pk for d in rows]
        )
        return self.page(activity_rows(rows, by_delivery), cursor)


class LinkClickerView(ConversationBaseView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @operation_schema("ConversationMessageLinkClicker")(
        "GetMessageLinkClickerCollection",
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
        return self.page(clicker_rows(rows), cursor)


urlpatterns = [
    route(f"{MESSAGE_ROUTE}/Activity", MessageActivityView.as_view()),
    route(
        f"{MESSAGE_ROUTE}/Link/<conversation_message_link_id>/Clicker", LinkClickerView.as_view()
    ),
]
