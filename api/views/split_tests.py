"""``SplitTest`` under ``List/{listId}``: a list's split tests and the
broadcasts each sends (its groups, then the winner to the rest). Read only,
as in Listrak: staff create and schedule split tests in the admin."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView
from api.envelopes import PAGING, collection, operation_schema, paged, resource, responses
from api.paging import pk_page
from api.params import parse_period
from api.routes import route
from api.scopes import Scope
from api.views.lists import LIST_ID, path_id
from broadcasts.audiences import BUCKETS, REMAINDER
from broadcasts.models import Broadcast, SplitTest, SplitTestMetric, SplitTestStatus
from contacts.selectors import within

SPLIT_TEST_ID = path_id("split_test_id", "Identifier used to locate the split test.")
#: ``testType``: whether the winner goes to the rest of the audience.
WITH_REMAINDER, WITHOUT_REMAINDER = "WithRemainder", "WithoutRemainder"
#: What can differ between a split test's messages, in words, for ``testCriteria``.
TESTED_PARTS = {
    "Subject": ("subject",),
    "From": ("from_name", "from_email"),
    "Content": ("html_body", "text_body"),
}


@extend_schema_serializer(component_name="SplitTest")
class SplitTestSerializer(serializers.Serializer):
    splitTestId = serializers.IntegerField()
    splitTestName = serializers.CharField()
    startDate = serializers.DateTimeField(
        allow_null=True, help_text="When its groups are (or were) sent."
    )
    endDate = serializers.DateTimeField(allow_null=True, help_text="When it finished.")
    status = serializers.ChoiceField(choices=SplitTestStatus.values)
    testCriteria = serializers.CharField(
        allow_null=True,
        help_text="What differs between its messages: Subject, From and/or Content.",
    )
    testType = serializers.ChoiceField(
        choices=[WITH_REMAINDER, WITHOUT_REMAINDER],
        help_text="WithRemainder: the winner is sent to the rest of the audience; "
        "WithoutRemainder: the groups share the whole audience.",
    )
    winnerMetric = serializers.ChoiceField(choices=SplitTestMetric.values)


@extend_schema_serializer(component_name="SplitTestMessage")
class SplitTestMessageSerializer(serializers.Serializer):
    messageId = serializers.IntegerField(help_text="The broadcast: a Message of the list.")
    messageStatus = serializers.CharField()
    messageType = serializers.ChoiceField(choices=["Group", REMAINDER])
    groupName = serializers.CharField()
    segmentSize = serializers.IntegerField(
        allow_null=True, help_text="Percent of the audience; null for the remainder."
    )


def _groups(split_test: SplitTest) -> list[Broadcast]:
    """Its broadcasts, by group (A to E), the remainder last."""
    broadcasts = list(split_test.broadcasts.all())  # prefetched
    return sorted(broadcasts, key=lambda b: (b.split_group == REMAINDER, b.split_group, b.pk))


def _tested(split_test: SplitTest) -> str | None:
    """The parts that differ between the groups' messages (as sent, once sent)."""
    shown = [b.content or b.message for b in _groups(split_test) if b.split_group != REMAINDER]
    differ = [
        words
        for words, fields in TESTED_PARTS.items()
        if len({tuple(getattr(m, f) for f in fields) for m in shown}) > 1
    ]
    return ", ".join(differ) or None


def split_test_data(split_test: SplitTest) -> dict[str, Any]:
    return {
        "splitTestId": split_test.pk,
        "splitTestName": split_test.name,
        "startDate": split_test.send_at,
        "endDate": split_test.finished_at,
        "status": split_test.status,
        "testCriteria": _tested(split_test),
        "testType": WITH_REMAINDER if split_test.test_share < 100 else WITHOUT_REMAINDER,
        "winnerMetric": split_test.winner_metric,
    }


def _message_data(broadcast: Broadcast) -> dict[str, Any]:
    remainder = broadcast.split_group == REMAINDER
    share = None
    if not remainder and broadcast.bucket_from is not None and broadcast.bucket_to is not None:
        share = round((broadcast.bucket_to - broadcast.bucket_from) * 100 / BUCKETS)
    return {
        "messageId": broadcast.pk,
        "messageStatus": broadcast.get_status_display(),
        "messageType": REMAINDER if remainder else "Group",
        "groupName": REMAINDER if remainder else broadcast.split_group,
        "segmentSize": share,
    }


_schema = operation_schema("SplitTest")
_WITH_GROUPS = Prefetch(
    "broadcasts", queryset=Broadcast.objects.select_related("message", "content")
)


class _SplitTestView(ApiView):
    required_scopes = (Scope.LIST, Scope.MESSAGE)
    session_permissions = ("broadcasts.view_splittest",)

    def get_split_test(self, list_id: str, split_test_id: str) -> SplitTest:
        split_test = self.get_in_list(SplitTest, list_id, split_test_id, "splitTestId")
        return SplitTest.objects.prefetch_related(_WITH_GROUPS).get(pk=split_test.pk)


class SplitTestCollectionView(_SplitTestView):
    @_schema(
        "GetSplitTestCollection",
        "Get all Split Tests",
        parameters=[
            LIST_ID,
            *PAGING,
            OpenApiParameter("startDate", str, description="Sent (or to be sent) from this date."),
            OpenApiParameter("endDate", str, description="Sent (or to be sent) until this date."),
        ],
        responses=responses({200: paged(SplitTestSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        params = request.query_params
        start, end = parse_period(params, email_list.zone)
        split_tests = within(
            SplitTest.objects.filter(list=email_list), column="send_at", start=start, end=end
        )
        rows, cursor = pk_page(split_tests.prefetch_related(_WITH_GROUPS), params=params)
        return self.page([split_test_data(s) for s in rows], cursor)


class SplitTestResourceView(_SplitTestView):
    @_schema(
        "GetSplitTestResource",
        "Get a Split Test",
        parameters=[LIST_ID, SPLIT_TEST_ID],
        responses=responses({200: resource(SplitTestSerializer)}),
    )
    def get(self, request: Request, list_id: str, split_test_id: str) -> Response:
        return self.ok(split_test_data(self.get_split_test(list_id, split_test_id)))


class SplitTestMessagesView(_SplitTestView):
    @_schema(
        "GetSplitTestMessageResources",
        "Get all Split Test Messages",
        parameters=[LIST_ID, SPLIT_TEST_ID],
        responses=responses({200: collection(SplitTestMessageSerializer)}),
    )
    def get(self, request: Request, list_id: str, split_test_id: str) -> Response:
        split_test = self.get_split_test(list_id, split_test_id)
        return self.ok([_message_data(b) for b in _groups(split_test)])


SPLIT_TEST_ROUTE = "List/<list_id>/SplitTest/<split_test_id>"
urlpatterns = [
    route("List/<list_id>/SplitTest", SplitTestCollectionView.as_view()),
    route(SPLIT_TEST_ROUTE, SplitTestResourceView.as_view()),
    route(f"{SPLIT_TEST_ROUTE}/Message", SplitTestMessagesView.as_view()),
]
