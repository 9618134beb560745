"""``SavedMessage``: messages kept to be sent as broadcasts as often as
wanted. Sending one copies it into a new broadcast that the worker sends
through a real SMTP server, so editing the saved message afterwards changes
nothing already sent; a test goes to its one address only."""

from __future__ import annotations

import datetime

import pytest

from broadcasts.library import create_campaign
from broadcasts.models import Broadcast, BroadcastStatus, SavedMessage
from broadcasts.worker import work
from emails.models import Message
from tests.api_helpers import api_caller, assert_error
from tests.factories import ContactFactory, ListFactory

pytestmark = pytest.mark.django_db

INVALID = "ERROR_INVALID_PARAMETER"
NOT_FOUND = "ERROR_UNABLE_TO_LOCATE_RESOURCE"


def body(**changes):
    return {
        "savedMessageName": "Weekly news",
        "subject": "News for {{ profile.first_name|default:'you' }}",
        "preheader": "What is new this week",
        "fromName": "Shop",
        "fromEmail": "news@shop.example",
        "replyEmail": "help@shop.example",
        "bodyHtml": '<p>Hello</p><a href="https://shop.example/news">Read</a>',
        "bodyText": "",
        "externalCampaignId": "weekly",
        **changes,
    }


def create(api, shop, **changes) -> int:
    response = api.post(f"List/{shop.pk}/SavedMessage", body(**changes))
    assert response.status_code == 201, response.content
    return int(response.json()["resourceId"])


def send(api, shop, saved_id, query=""):
    """POST the send route as Listrak clients do: no body, no Content-Type."""
    return api.http.generic(
        "POST",
        f"/email/v1/List/{shop.pk}/SavedMessage/{saved_id}/Message{query}",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )


def test_a_saved_message_is_created_read_listed_and_updated(api, shop):
    campaign = create_campaign(email_list=shop, name="Weekly")
    saved_id = create(api, shop, campaignId=campaign.pk)
    path = f"List/{shop.pk}/SavedMessage/{saved_id}"
    data = api.get(path).json()["data"]
    assert {k: data[k] for k in ("savedMessageId", "savedMessageName", "campaignId")} == {
        "savedMessageId": saved_id,
        "savedMessageName": "Weekly news",
        "campaignId": campaign.pk,
    }
    assert (data["subject"], data["fromEmail"], data["replyEmail"]) == (
        "News for {{ profile.first_name|default:'you' }}",
        "news@shop.example",
        "help@shop.example",
    )
    assert (data["preheader"], data["externalCampaignId"], data["codePage"]) == (
        "What is new this week",
        "weekly",
        65001,
    )
    assert data["createDate"] is not None and data["toName"] is None
    (listed,) = api.get(f"List/{shop.pk}/SavedMessage").json()["data"]
    assert set(listed) == {
        "savedMessageId",
        "savedMessageName",
        "campaignId",
        "createDate",
        "lastModifiedDate",
        "externalCampaignId",
        "subject",
    }

    changed = {
        "savedMessageName": "Weekly letter",
        "subject": "Letter",
        "fromName": "The Shop",
        "fromEmail": "letters@shop.example",
        "bodyText": "A new letter",
    }
    response = api.put(path, changed)
    assert response.status_code == 200, response.content
    after = response.json()["data"]
    assert after == api.get(path).json()["data"]
    assert (after["savedMessageName"], after["subject"], after["fromName"]) == (
        "Weekly letter",
        "Letter",
        "The Shop",
    )
    # Left out of the body: kept.
    assert (after["campaignId"], after["preheader"], after["bodyHtml"]) == (
        campaign.pk,
        "What is new this week",
        body()["bodyHtml"],
    )
    assert after["lastModifiedDate"] > data["lastModifiedDate"]
    assert Message.objects.get().name == "Weekly letter"
    cleared = api.put(path, {**changed, "campaignId": None, "preheader": None})
    assert (cleared.json()["data"]["campaignId"], cleared.json()["data"]["preheader"]) == (
        None,
        None,
    )


def test_sending_it_copies_it_into_a_broadcast_that_goes_to_the_list(api, shop, smtp_server):
    for name in ("ada", "bob"):
        ContactFactory(list=shop, email=f"{name}@example.com")
    saved_id = create(api, shop)
    response = send(api, shop, saved_id)
    assert response.status_code == 201, response.content
    broadcast = Broadcast.objects.get(pk=response.json()["resourceId"])
    work(budget=30)
    assert sorted(m["To"] for m in smtp_server.messages) == ["ada@example.com", "bob@example.com"]
    assert {m["Subject"] for m in smtp_server.messages} == {"News for you"}

    path = f"List/{shop.pk}/SavedMessage/{saved_id}"
    assert api.put(path, body(subject="Changed afterwards")).status_code == 200
    shown = api.get(f"List/{shop.pk}/Message/{broadcast.pk}").json()["data"]
    assert (shown["messageStatus"], shown["externalCampaignId"]) == ("Sent", "weekly")
    assert shown["subject"] == "News for {{ profile.first_name|default:'you' }}"
    again = api.post(f"List/{shop.pk}/SavedMessage/{saved_id}/Message", {})  # an empty object
    assert again.status_code == 201, again.content
    assert Broadcast.objects.get(pk=again.json()["resourceId"]).message.subject == (
        "Changed afterwards"
    )


def test_a_send_date_schedules_it_and_a_test_goes_to_its_address_only(api, shop, smtp_server):
    ContactFactory(list=shop, email="ada@example.com")
    saved_id = create(api, shop)
    later = send(api, shop, saved_id, "?sendDate=2030-01-15")
    assert later.status_code == 201, later.content
    scheduled = Broadcast.objects.get(pk=later.json()["resourceId"])
    # Midnight in New York, where the list is.
    assert scheduled.send_at == datetime.datetime(2030, 1, 15, 5, tzinfo=datetime.UTC)
    assert scheduled.status == BroadcastStatus.SCHEDULED
    test = send(api, shop, saved_id, "?sendTestMessage=true&testEmailAddress=boss@shop.example")
    assert test.status_code == 201, test.content
    work(budget=5)
    (email,) = smtp_server.messages
    assert (email["To"], email["Subject"]) == ("boss@shop.example", "[Test] News for you")
    kept = Broadcast.objects.get(pk=test.json()["resourceId"])
    assert kept.is_test and kept.message_id != SavedMessage.objects.get().message_id


def test_a_message_a_broadcast_cannot_send_is_refused_in_words_and_nothing_is_sent(
    api, shop, smtp_server
):
    ContactFactory(list=shop, email="ada@example.com")
    saved_id = create(api, shop, subject="Your code {{ coupon }}")
    response = send(api, shop, saved_id)
    assert_error(response, 400, INVALID, "{{ coupon }}", "a broadcast cannot fill")
    work(budget=5)
    assert not Broadcast.objects.exists() and smtp_server.messages == []
    assert Message.objects.count() == 1  # no copy left behind


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"savedMessageName": ""}, "savedMessageName"),
        ({"subject": None}, "subject"),
        ({"fromEmail": "nobody"}, "fromEmail"),
        ({"bodyHtml": "{{ profile.shoe_size }}"}, "bodyHtml: Line 1"),
        ({"bodyHtml": "", "bodyText": ""}, "Write an HTML body or a text body"),
        ({"campaignId": 999999}, "campaignId"),
        ({"campaignId": -1}, "campaignId"),
        ({"preheader": "x" * 501}, "preheader"),
        ({"enableTracking": True}, "Unknown field 'enableTracking'"),
    ],
)
def test_a_bad_saved_message_is_refused_by_name_and_nothing_is_saved(api, shop, changes, words):
    assert_error(api.post(f"List/{shop.pk}/SavedMessage", body(**changes)), 400, INVALID, words)
    assert not SavedMessage.objects.exists() and not Message.objects.exists()


def test_a_bad_update_changes_nothing(api, shop):
    saved_id = create(api, shop)
    path = f"List/{shop.pk}/SavedMessage/{saved_id}"
    before = api.get(path).json()["data"]
    assert_error(api.put(path, body(subject="{% if %}")), 400, INVALID, "subject")
    assert_error(api.put(path, {"subject": "Only this"}), 400, INVALID, "savedMessageName")
    assert api.get(path).json()["data"] == before


def test_unknown_and_other_lists_ids_are_not_found(api, shop):
    other = ListFactory(name="Other")
    theirs = create(api, other, subject="News")
    mine = create(api, shop)
    for path in (
        f"List/{shop.pk}/SavedMessage/{theirs}",
        f"List/{shop.pk}/SavedMessage/999999",
    ):
        assert_error(api.get(path), 404, NOT_FOUND, "listId and savedMessageId")
        assert_error(api.put(path, body()), 404, NOT_FOUND, "listId and savedMessageId")
        assert_error(send(api, shop, path.rsplit("/", 1)[1]), 404, NOT_FOUND, "savedMessageId")
    assert_error(api.get("List/999999/SavedMessage"), 404, NOT_FOUND, "listId")
    assert_error(api.get(f"List/{shop.pk}/SavedMessage/x1"), 400, INVALID, "savedMessageId")
    campaign = create_campaign(email_list=other, name="Theirs")
    assert_error(
        api.put(f"List/{shop.pk}/SavedMessage/{mine}", body(campaignId=campaign.pk)),
        400,
        INVALID,
        "campaignId",
    )
    assert not Broadcast.objects.exists()


def test_the_send_route_takes_its_options_in_the_query_string_only(api, shop, smtp_server):
    saved_id = create(api, shop)
    path = f"List/{shop.pk}/SavedMessage/{saved_id}/Message"
    assert_error(api.post(path, {"sendDate": "2030-01-01"}), 400, INVALID, "query string")
    assert_error(api.post(path, raw=b"[1]"), 400, INVALID, "takes no body")
    assert_error(api.post(path, raw=b"{"), 400, "ERROR_MALFORMED_REQUEST_BODY", "not valid JSON")
    assert_error(
        api.post(path, raw=b"x", content_type="text/plain"), 415, "ERROR_UNSUPPORTED_CONTENT_TYPE"
    )
    assert_error(send(api, shop, saved_id, "?sendDate=later"), 400, INVALID, "sendDate")
    assert_error(
        send(api, shop, saved_id, "?sendTestMessage=1&sendDate=2030-01-01"),
        400,
        "ERROR_TEST_FLAG_AND_SEND_DATE_SET",
    )
    assert not Broadcast.objects.exists() and smtp_server.messages == []


def test_saved_messages_need_the_list_and_message_scopes(db, shop):
    lists_only = api_caller(["List", "Contact", "Report"], name="no message")
    path = f"List/{shop.pk}/SavedMessage"
    assert_error(lists_only.get(path), 401, "ERROR_UNAUTHORIZED", "Message")
    assert_error(lists_only.post(path, body()), 401, "ERROR_UNAUTHORIZED", "Message")
    messages_only = api_caller(["Message"], name="no list")
    assert_error(messages_only.get(path), 401, "ERROR_UNAUTHORIZED", "List")
    assert not SavedMessage.objects.exists()
