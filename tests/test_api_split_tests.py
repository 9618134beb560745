"""``SplitTest``: read only, as in Listrak. A split test made by staff is
listed with what it tests and how its winner is chosen, and its messages
are the broadcasts of its groups and, once the winner is chosen, the
remainder's, each readable as a ``Message`` of the list."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from broadcasts.models import SplitTest
from broadcasts.services import create_split_test, schedule_split_test
from broadcasts.split_tests import decide_due
from broadcasts.worker import work
from tests.api_helpers import api_caller, assert_error
from tests.factories import ContactFactory, ListFactory, MessageFactory

pytestmark = pytest.mark.django_db

INVALID = "ERROR_INVALID_PARAMETER"
NOT_FOUND = "ERROR_UNABLE_TO_LOCATE_RESOURCE"


def split_test(shop, *, share=40, name="Subjects", **message_fields) -> SplitTest:
    messages = [
        MessageFactory.create(
            list=shop, name=f"Version {group}", **{"subject": group, **message_fields}
        )
        for group in ("A", "B")
    ]
    return create_split_test(
        email_list=shop,
        name=name,
        messages=messages,
        test_share=share,
        winner_metric="Opens",
        decide_after=datetime.timedelta(hours=1),
    )


def test_a_split_test_and_its_messages_as_it_runs(api, shop, smtp_server):
    for n in range(20):
        ContactFactory(list=shop, email=f"c{n}@example.com")
    test = split_test(shop)
    path = f"List/{shop.pk}/SplitTest/{test.pk}"
    assert api.get(path).json()["data"] == {
        "splitTestId": test.pk,
        "splitTestName": "Subjects",
        "startDate": None,
        "endDate": None,
        "status": "Draft",
        "testCriteria": "Subject",
        "testType": "WithRemainder",
        "winnerMetric": "Opens",
    }
    groups = api.get(f"{path}/Message").json()["data"]
    assert [
        (g["groupName"], g["messageType"], g["segmentSize"], g["messageStatus"]) for g in groups
    ] == [
        ("A", "Group", 20, "Draft"),
        ("B", "Group", 20, "Draft"),
    ]

    schedule_split_test(split_test=test)
    work(budget=30)
    decide_due(now=timezone.now() + datetime.timedelta(hours=2))
    work(budget=30)

    assert len(smtp_server.messages) == 20  # the groups, then the winner to the rest
    data = api.get(path).json()["data"]
    assert data["status"] == "Finished"
    assert data["startDate"] is not None and data["endDate"] is not None
    messages = api.get(f"{path}/Message").json()["data"]
    assert [
        (m["groupName"], m["messageType"], m["segmentSize"], m["messageStatus"]) for m in messages
    ] == [
        ("A", "Group", 20, "Sent"),
        ("B", "Group", 20, "Sent"),
        ("Remainder", "Remainder", None, "Sent"),
    ]
    types = [
        api.get(f"List/{shop.pk}/Message/{m['messageId']}/Status").json()["data"]["type"]
        for m in messages
    ]
    assert types == ["SplitTestGroup", "SplitTestGroup", "SplitTestRemainder"]
    sends = sum(
        api.get(f"List/{shop.pk}/Message/{m['messageId']}/Summary").json()["data"]["sentCount"]
        for m in messages
    )
    assert sends == 20


def test_what_a_split_test_tests_and_whether_it_has_a_remainder(api, shop):
    by_sender = create_split_test(
        email_list=shop,
        name="Senders",
        messages=[
            MessageFactory.create(list=shop, subject="Same", from_name=name)
            for name in ("Ann", "Bo")
        ],
        test_share=100,
        winner_metric="Clicks",
        decide_after=datetime.timedelta(hours=1),
    )
    data = api.get(f"List/{shop.pk}/SplitTest/{by_sender.pk}").json()["data"]
    assert (data["testCriteria"], data["testType"], data["winnerMetric"]) == (
        "From",
        "WithoutRemainder",
        "Clicks",
    )
    groups = api.get(f"List/{shop.pk}/SplitTest/{by_sender.pk}/Message").json()["data"]
    assert [g["segmentSize"] for g in groups] == [50, 50]
    alike = create_split_test(
        email_list=shop,
        name="Alike",
        messages=[MessageFactory.create(list=shop), MessageFactory.create(list=shop)],
        test_share=30,
        winner_metric="Opens",
        decide_after=datetime.timedelta(hours=1),
    )
    assert api.get(f"List/{shop.pk}/SplitTest/{alike.pk}").json()["data"]["testCriteria"] is None


def test_the_collection_pages_and_bounds_by_start_date(api, shop):
    tests = [split_test(shop, name=f"T{n}") for n in range(3)]
    for day, test in zip((1, 2, 3), tests, strict=True):
        schedule_split_test(
            split_test=test, send_at=datetime.datetime(2030, 6, day, 12, tzinfo=datetime.UTC)
        )
    path = f"List/{shop.pk}/SplitTest"
    first = api.get(f"{path}?count=2").json()
    assert [t["splitTestName"] for t in first["data"]] == ["T0", "T1"]
    rest = api.get(f"{path}?count=2&cursor={first['nextPageCursor']}").json()
    assert [t["splitTestName"] for t in rest["data"]] == ["T2"] and rest["nextPageCursor"] is None
    assert first["data"][0]["status"] == "Scheduled"
    assert first["data"][0]["startDate"] == "2030-06-01T12:00:00Z"
    bounded = api.get(f"{path}?startDate=2030-06-02&endDate=2030-06-02").json()["data"]
    assert [t["splitTestName"] for t in bounded] == ["T1"]
    assert_error(api.get(f"{path}?startDate=June"), 400, INVALID, "startDate")
    assert_error(api.get(f"{path}?count=9999"), 400, INVALID, "count")


def test_unknown_and_other_lists_ids_are_not_found_and_it_is_read_only(api, shop):
    theirs = split_test(ListFactory(name="Other"))
    mine = split_test(shop)
    base = f"List/{shop.pk}/SplitTest"
    for path in (f"{base}/{theirs.pk}", f"{base}/999999", f"{base}/{theirs.pk}/Message"):
        assert_error(api.get(path), 404, NOT_FOUND, "listId and splitTestId")
    assert_error(api.get(f"{base}/-1"), 400, INVALID, "splitTestId")
    assert_error(api.get("List/999999/SplitTest"), 404, NOT_FOUND, "listId")
    assert_error(api.post(base, {"splitTestName": "X"}), 405, "ERROR_UNSUPPORTED_METHOD")
    assert_error(api.delete(f"{base}/{mine.pk}"), 405, "ERROR_UNSUPPORTED_METHOD")
    assert SplitTest.objects.count() == 2


def test_split_tests_need_the_list_and_message_scopes(db, shop):
    test = split_test(shop)
    no_message = api_caller(["List", "Report"], name="no message")
    for path in ("", f"/{test.pk}", f"/{test.pk}/Message"):
        response = no_message.get(f"List/{shop.pk}/SplitTest{path}")
        assert_error(response, 401, "ERROR_UNAUTHORIZED", "Message")
