"""The conversation report resources of the API, against the hand-counted
story of tests.tracking_helpers.engagement_story."""

from __future__ import annotations

import pytest

from emails.models import MessageLink
from tests.api_helpers import api_caller, assert_error
from tests.tracking_helpers import engagement_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(shop, smtp_server, client, settings):
    return engagement_story(shop, smtp_server, client, settings)


def base(shop, conversation) -> str:
    return f"List/{shop.pk}/Conversation/{conversation.pk}"


def test_conversations_are_listed_and_read(api, shop, story):
    _, conversation = story
    expected = {
        "conversationId": conversation.pk,
        "conversationName": "Welcome",
        "campaignId": None,
        "expirationDate": None,
        "status": "Published",
    }
    assert api.get(f"List/{shop.pk}/Conversation").json() == {"status": 200, "data": [expected]}
    assert api.get(base(shop, conversation)).json()["data"] == expected


def test_the_conversation_summary_has_the_storys_figures(api, shop, story):
    _, conversation = story
    assert api.get(f"{base(shop, conversation)}/Summary").json()["data"] == {
        "averageOrderValue": 50.0,
        "bounceCount": 1,
        "clickCount": 2,
        "conversionCount": 1,
        "deliveredCount": 2,
        "openCount": 1,
        "readCount": 0,
        "revenue": 50.0,
        "sentCount": 3,
        "unsubscribeCount": 1,
        "visitCount": 0,
    }


def test_its_messages_their_summary_and_their_links(api, shop, story):
    message, conversation = story
    messages = api.get(f"{base(shop, conversation)}/Message").json()
    assert messages["nextPageCursor"] is None
    (listed,) = messages["data"]
    assert listed["messageId"] == message.pk and listed["subject"] == message.subject
    assert listed["sendDate"] is not None
    one = api.get(f"{base(shop, conversation)}/Message/{message.pk}").json()["data"]
    assert one["bodyHtml"] == message.html_body
    summary = api.get(f"{base(shop, conversation)}/Message/{message.pk}/Summary").json()["data"]
    assert (summary["sentCount"], summary["openCount"], summary["clickCount"]) == (3, 1, 1 + 1)
    assert summary["revenue"] == 50.0
    links = api.get(f"{base(shop, conversation)}/Message/{message.pk}/Link?count=1").json()
    first = MessageLink.objects.order_by("pk").first()
    assert links["data"] == [
        {"linkId": first.pk, "linkDescription": "", "linkUrl": first.url, "clickCount": 1}
    ]
    cursor = links["nextPageCursor"]
    link_url = f"{base(shop, conversation)}/Message/{message.pk}/Link"
    following = api.get(f"{link_url}?count=1&cursor={cursor}").json()
    assert following["data"][0]["clickCount"] == 0
    one_link = api.get(f"{base(shop, conversation)}/Message/{message.pk}/Link/{first.pk}")
    assert one_link.json()["data"]["clickCount"] == 1


def test_unknown_ids_and_missing_scopes_are_refused(api, shop, story):
    message, conversation = story
    assert_error(
        api.get(f"List/{shop.pk}/Conversation/999999"), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE"
    )
    assert_error(
        api.get(f"{base(shop, conversation)}/Message/999999/Summary"),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
    )
    assert_error(api.get(f"List/{shop.pk}/Conversation/abc"), 400, "ERROR_INVALID_PARAMETER")
    lists_only = api_caller(scopes=["List"], name="lists only")
    assert lists_only.get(f"{base(shop, conversation)}").status_code == 200
    assert_error(lists_only.get(f"{base(shop, conversation)}/Summary"), 401, "ERROR_UNAUTHORIZED")
    assert_error(
        lists_only.get(f"{base(shop, conversation)}/Message/{message.pk}/Link"),
        401,
        "ERROR_UNAUTHORIZED",
    )


def test_the_message_activity_has_a_row_per_contact_sent_to(api, shop, story):
    message, conversation = story
    url = f"{base(shop, conversation)}/Message/{message.pk}/Activity"
    rows = {row["emailAddress"]: row for row in api.get(url).json()["data"]}
    assert set(rows) == {"ada@example.com", "bob@example.com", "cy@example.com"}
    ada, bob, cy = rows["ada@example.com"], rows["bob@example.com"], rows["cy@example.com"]
    assert (ada["open"], ada["click"], ada["clickCount"], ada["orderTotal"]) == (
        True,
        True,
        1,
        50.0,
    )
    assert (bob["bounce"], bob["unsubscribe"], bob["open"]) == (True, True, False)
    assert (cy["click"], cy["open"], cy["bounce"]) == (True, False, False)
    assert ada["sendDate"] is not None and ada["activityDate"] is not None
    clicked = api.get(f"{url}?activityType=Click").json()["data"]
    assert sorted(r["emailAddress"] for r in clicked) == ["ada@example.com", "cy@example.com"]
    assert [r["emailAddress"] for r in api.get(f"{url}?activityType=bounce").json()["data"]] == [
        "bob@example.com"
    ]
    page = api.get(f"{url}?count=2").json()
    assert len(page["data"]) == 2 and page["nextPageCursor"]
    rest = api.get(f"{url}?count=2&cursor={page['nextPageCursor']}").json()
    assert len(rest["data"]) == 1 and rest["nextPageCursor"] is None
    assert api.get(f"{url}?endDate=2000-01-01").json()["data"] == []
    assert_error(
        api.get(f"{url}?activityType=Dance"), 400, "ERROR_INVALID_PARAMETER", "activityType"
    )


def test_a_links_clickers(api, shop, story):
    message, conversation = story
    sale = MessageLink.objects.get(url="https://shop.example/sale")
    url = f"{base(shop, conversation)}/Message/{message.pk}/Link/{sale.pk}/Clicker"
    (clicker,) = api.get(url).json()["data"]
    assert clicker["emailAddress"] == "ada@example.com" and clicker["clickDate"]
    assert api.get(f"{url}?startDate=2999-01-01").json()["data"] == []
    assert_error(
        api.get(f"{base(shop, conversation)}/Message/{message.pk}/Link/999999/Clicker"),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
    )
