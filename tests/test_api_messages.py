"""The list's ``Message`` resource: a broadcast posted through the API is
sent by the broadcast worker through a real SMTP server, and its status,
summary, activity, links and clickers then show what its contacts really
did (opens and clicks made through the tracking endpoints). Tests go to one
address only; every bad request is refused by name and writes nothing."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from broadcasts.library import create_campaign, create_saved_audience
from broadcasts.models import Broadcast, BroadcastStatus, SavedAudience
from broadcasts.services import create_broadcast, schedule_broadcast
from broadcasts.worker import work
from emails.models import Delivery, Message, MessageLink
from tests.api_helpers import api_caller, assert_error
from tests.factories import ContactFactory, ListFactory, MessageFactory
from tests.smtp import free_port
from tests.tracking_helpers import html_of, links, path_of

pytestmark = pytest.mark.django_db

INVALID = "ERROR_INVALID_PARAMETER"
NOT_FOUND = "ERROR_UNABLE_TO_LOCATE_RESOURCE"
HTML = (
    '<p>Hi {{ profile.first_name|default:"you" }}</p><a href="https://shop.example/sale">Sale</a>'
)


def body(**changes):
    """A Listrak client's ``MessageExtendedFilter``, C# defaults included."""
    return {
        "subject": "Spring sale for {{ profile.first_name|default:'you' }}",
        "bodyHtml": HTML,
        "bodyText": "",
        "fromEmail": "news@shop.example",
        "fromName": "Shop",
        "externalCampaignId": "spring-27",
        "codePage": 0,
        "enableUniversalEmailKeySetting": False,
        "toName": None,
        **changes,
    }


def contacts(shop, *names):
    first_name = shop.profile_fields.get(name="First Name")
    return [
        ContactFactory(list=shop, email=f"{n.lower()}@example.com", profile={first_name.key: n})
        for n in names
    ]


def post(api, shop, query="", **changes):
    return api.post(f"List/{shop.pk}/Message{query}", body(**changes))


def nothing_written():
    return not Message.objects.exists() and not Broadcast.objects.exists()


# --- Sending ------------------------------------------------------------------------------------


def test_a_posted_message_is_sent_to_the_list_and_its_reports_show_what_contacts_did(
    api, shop, smtp_server, client
):
    contacts(shop, "Ada", "Bob", "Cy")
    response = post(api, shop)
    assert response.status_code == 201, response.content
    message_id = int(response.json()["resourceId"])
    path = f"List/{shop.pk}/Message/{message_id}"
    assert api.get(path).json()["data"]["messageStatus"] == "Scheduled"

    work(budget=30)

    received = {m["To"]: m for m in smtp_server.messages}
    assert sorted(received) == ["ada@example.com", "bob@example.com", "cy@example.com"]
    assert received["ada@example.com"]["Subject"] == "Spring sale for Ada"
    ada_html, bob_html = html_of(received["ada@example.com"]), html_of(received["bob@example.com"])
    client.get(path_of(links(ada_html, "o")[0]))
    client.get(path_of(links(ada_html, "c")[0]))
    client.get(path_of(links(bob_html, "c")[0]))

    data = api.get(path).json()["data"]
    assert data["messageStatus"] == "Sent"
    assert data["subject"] == "Spring sale for {{ profile.first_name|default:'you' }}"
    assert (data["bodyHtml"], data["fromEmail"], data["fromName"]) == (
        HTML,
        "news@shop.example",
        "Shop",
    )
    assert (data["externalCampaignId"], data["codePage"], data["enableTracking"]) == (
        "spring-27",
        65001,
        True,
    )
    assert data["segmentsApplied"] == {"includedSegments": [], "excludedSegments": []}
    status = api.get(f"{path}/Status").json()["data"]
    assert (status["sendCount"], status["status"], status["type"]) == (3, "Sent", "Standard")
    assert status["startDate"] is not None and status["endDate"] is not None
    assert api.get(f"{path}/Summary").json()["data"] == {
        "averageOrderValue": 0.0,
        "bounceCount": 0,
        "clickCount": 2,
        "conversionCount": 0,
        "openCount": 1,
        "passAlongCount": 0,
        "readCount": 0,
        "revenue": 0.0,
        "sentCount": 3,
        "unsubscribeCount": 0,
        "visitCount": 0,
    }
    link = MessageLink.objects.get(url="https://shop.example/sale")
    assert api.get(f"{path}/Link").json() == {
        "status": 200,
        "nextPageCursor": None,
        "data": [{"linkId": link.pk, "linkDescription": "", "linkUrl": link.url, "clickCount": 2}],
    }
    assert api.get(f"{path}/Link/{link.pk}").json()["data"]["clickCount"] == 2
    clickers = api.get(f"{path}/Link/{link.pk}/Clicker").json()["data"]
    assert sorted(c["emailAddress"] for c in clickers) == ["ada@example.com", "bob@example.com"]

    rows = {r["emailAddress"]: r for r in api.get(f"{path}/Activity").json()["data"]}
    assert sorted(rows) == ["ada@example.com", "bob@example.com", "cy@example.com"]
    ada, bob, cy = rows["ada@example.com"], rows["bob@example.com"], rows["cy@example.com"]
    assert (ada["open"], ada["click"], ada["clickCount"]) == (True, True, 1)
    assert (bob["open"], bob["click"], cy["open"], cy["click"]) == (False, True, False, False)
    assert ada["sendDate"] is not None and cy["activityDate"] is None

    def listed(query):
        found = api.get(f"{path}/Activity?{query}")
        assert found.status_code == 200, found.content
        return sorted(r["emailAddress"] for r in found.json()["data"])

    assert listed("activityType=Open") == ["ada@example.com"]
    assert listed("activityType=click") == ["ada@example.com", "bob@example.com"]
    assert listed("emailAddress=Bob@Example.com") == ["bob@example.com"]
    today = timezone.now().astimezone(shop.zone).date()
    tomorrow = today + datetime.timedelta(days=1)
    assert listed(f"startDate={tomorrow}") == []  # by send date, the default
    assert listed(f"dateType=Activity&startDate={today}") == ["ada@example.com", "bob@example.com"]
    assert listed(f"dateType=Activity&activityType=Open&startDate={today}") == ["ada@example.com"]
    assert listed(f"dateType=activity&endDate={today - datetime.timedelta(days=1)}") == []
    first = api.get(f"{path}/Activity?count=2&cursor=start").json()
    rest = api.get(f"{path}/Activity?count=2&cursor={first['nextPageCursor']}").json()
    paged = [r["emailAddress"] for r in first["data"] + rest["data"]]
    assert sorted(paged) == sorted(rows) and rest["nextPageCursor"] is None


def test_the_filter_and_a_saved_audience_choose_who_gets_it(api, shop, smtp_server):
    contacts(shop, "Ada", "Bob", "Cy")
    by_name = {
        "segmentationField": "first name",
        "compareType": "NotEquals",
        "values": [{"value": "Cy"}],
    }
    first = post(api, shop, filter=by_name)
    assert first.status_code == 201, first.content
    work(budget=30)
    assert sorted(m["To"] for m in smtp_server.messages) == ["ada@example.com", "bob@example.com"]

    as_array = [
        {"segmentationField": "First Name", "compareType": "Equals", "values": [{"value": "Ada"}]},
        {
            "joinType": "Or",
            "segmentationField": "First Name",
            "compareType": "Equals",
            "values": [{"value": "Cy"}],
        },
    ]
    assert post(api, shop, subject="Second", filter=as_array).status_code == 201
    first_name = shop.profile_fields.get(name="First Name")
    audience = create_saved_audience(
        email_list=shop,
        name="Just Bob",
        criteria={
            "filters": [
                {
                    "segmentationFieldId": first_name.pk,
                    "compareType": "Equals",
                    "values": [{"value": "Bob"}],
                }
            ]
        },
    )
    third = post(api, shop, subject="Third", savedAudienceId=audience.pk, filter=None)
    assert third.status_code == 201, third.content
    work(budget=30)
    got = sorted((m["Subject"], m["To"]) for m in smtp_server.messages)
    assert [to for subject, to in got if subject == "Second"] == [
        "ada@example.com",
        "cy@example.com",
    ]
    assert [to for subject, to in got if subject == "Third"] == ["bob@example.com"]
    data = api.get(f"List/{shop.pk}/Message/{third.json()['resourceId']}").json()["data"]
    assert data["savedAudienceId"] == audience.pk
    assert data["segmentsApplied"] == {"includedSegments": ["Just Bob"], "excludedSegments": []}


def test_a_send_date_without_an_offset_is_in_the_lists_time_zone_and_waits(api, shop, smtp_server):
    contacts(shop, "Ada")
    response = post(api, shop, "?sendDate=2030-05-01T09:00:00")  # New York, daylight time
    assert response.status_code == 201, response.content
    work(budget=5)
    assert smtp_server.messages == []
    broadcast = Broadcast.objects.get()
    assert broadcast.send_at == datetime.datetime(2030, 5, 1, 13, 0, tzinfo=datetime.UTC)
    data = api.get(f"List/{shop.pk}/Message/{broadcast.pk}").json()["data"]
    assert (data["sendDate"], data["messageStatus"]) == ("2030-05-01T13:00:00Z", "Scheduled")
    offset = post(api, shop, "?sendDate=2030-05-01T09:00:00%2B02:00", subject="Two")
    assert offset.status_code == 201
    assert Broadcast.objects.get(pk=offset.json()["resourceId"]).send_at.hour == 7


def test_a_campaign_and_the_google_analytics_name_are_kept(api, shop, smtp_server):
    campaign = create_campaign(email_list=shop, name="Spring")
    response = post(api, shop, campaignId=campaign.pk, googleAnalyticsCampaignName="spring-ga")
    assert response.status_code == 201, response.content
    data = api.get(f"List/{shop.pk}/Message/{response.json()['resourceId']}").json()["data"]
    assert (data["campaignId"], data["googleAnalyticsCampaignName"]) == (campaign.pk, "spring-ga")
    assert post(api, shop, campaignId=0).status_code == 201  # 0 is "none" to a .NET client


# --- Tests and reviews ----------------------------------------------------------------------


def test_a_test_goes_to_its_address_only_and_is_listed_only_when_asked(api, shop, smtp_server):
    contacts(shop, "Ada", "Bob")
    response = post(api, shop, "?sendTestMessage=true&testEmailAddress=boss@shop.example")
    assert response.status_code == 201, response.content
    work(budget=5)
    (email,) = smtp_server.messages
    assert (email["To"], email["Subject"]) == ("boss@shop.example", "[Test] Spring sale for you")
    assert not Delivery.objects.exists()
    test_id = int(response.json()["resourceId"])
    status = api.get(f"List/{shop.pk}/Message/{test_id}/Status").json()["data"]
    assert (status["sendCount"], status["status"], status["type"]) == (1, "Sent", "Test")
    listing = f"List/{shop.pk}/Message"
    assert api.get(listing).json()["data"] == []
    (shown,) = api.get(f"{listing}?includeTestMessages=true").json()["data"]
    assert (shown["messageId"], shown["messageStatus"]) == (test_id, "Sent")


def test_a_review_goes_to_the_address_given_as_a_test(api, shop, smtp_server):
    contacts(shop, "Ada")
    response = post(api, shop, "?sendReviewMessage=true&testEmailAddress=boss@shop.example")
    assert response.status_code == 201, response.content
    assert [m["To"] for m in smtp_server.messages] == ["boss@shop.example"]


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("?sendTestMessage=true", INVALID, "testEmailAddress"),
        ("?sendReviewMessage=true", INVALID, "testEmailAddress"),
        ("?sendTestMessage=true&testEmailAddress=nobody", INVALID, "not an email address"),
        ("?testEmailAddress=boss@shop.example", INVALID, "only with sendTestMessage"),
        (
            "?sendTestMessage=true&sendReviewMessage=true&testEmailAddress=a@b.example",
            "ERROR_TEST_FLAG_AND_REVIEW_FLAG_SET",
            "not both",
        ),
        (
            "?sendTestMessage=true&testEmailAddress=a@b.example&sendDate=2030-01-01",
            "ERROR_TEST_FLAG_AND_SEND_DATE_SET",
            "sendDate",
        ),
        (
            "?sendReviewMessage=true&testEmailAddress=a@b.example&sendDate=2030-01-01",
            "ERROR_REVIEW_FLAG_AND_SEND_DATE_SET",
            "sendDate",
        ),
        ("?sendTestMessage=maybe&testEmailAddress=a@b.example", INVALID, "sendTestMessage"),
        ("?sendDate=soon", INVALID, "sendDate"),
        ("?sendDate=2030-02-30", INVALID, "sendDate"),
    ],
)
def test_contradicting_or_bad_send_options_are_refused_by_name(
    api, shop, smtp_server, query, code, words
):
    contacts(shop, "Ada")
    assert_error(post(api, shop, query), 400, code, words)
    assert nothing_written()
    assert smtp_server.messages == []


def test_a_test_the_mail_server_refuses_or_cannot_take_saves_nothing(
    api, shop, smtp_server, settings
):
    smtp_server.refuse("boss@shop.example")
    query = "?sendTestMessage=true&testEmailAddress=boss@shop.example"
    assert_error(post(api, shop, query), 400, INVALID, "refused boss@shop.example")
    assert nothing_written()
    settings.EMAIL_PORT = free_port()  # nobody listens there
    refused = post(api, shop, "?sendTestMessage=true&testEmailAddress=ada@shop.example")
    assert_error(refused, 503, "ERROR_UNHANDLED_EXCEPTION", "mail server failed", "try again")
    assert nothing_written()


# --- Refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"filter": {"segmentationField": "Shoe Size", "compareType": "Equals"}}, "filter"),
        (
            {
                "filter": [
                    {"segmentationField": "First Name", "compareType": "Equals", "values": []},
                ]
            },
            "filter[0].values",
        ),
        (
            {
                "filter": {
                    "filters": [
                        {
                            "segmentationField": "Points",
                            "compareType": "Contains",
                            "values": [{"value": "1"}],
                        },
                    ]
                }
            },
            "filter.filters[0]",
        ),
        ({"filter": "everyone"}, "not a string"),
        (
            {
                "filter": {
                    "segmentationField": "First Name",
                    "compareType": "Equals",
                    "values": [{"value": "A\u0000"}],
                }
            },
            "NUL character",
        ),
        ({"filter": {"engagement": "Opened", "message": 1}}, "filter"),
        (
            {
                "savedAudienceId": 1,
                "filter": {"segmentationField": "VIP", "compareType": "Checked"},
            },
            "not both",
        ),
        ({"subject": "Your code {{ coupon }}"}, "a broadcast cannot fill"),
        ({"subject": "Hi {{ profile.shoe_size }}"}, "subject:"),
        ({"bodyHtml": "", "bodyText": None}, "Write an HTML body or a text body"),
        ({"bodyHtml": "{% if %}"}, "bodyHtml:"),
        ({"fromEmail": "not an address"}, "fromEmail"),
        ({"fromName": None}, "fromName"),
        ({"subject": ""}, "subject"),
        ({"enableTracking": False}, "enableTracking: Always true"),
        ({"enablePassalong": False}, "enablePassalong"),
        ({"codePage": 1252}, "codePage"),
        ({"toName": "Ada"}, "toName"),
        ({"enableUniversalEmailKeySetting": True}, "enableUniversalEmailKeySetting"),
        ({"googleAnalyticsCampaignContent": "x"}, "googleAnalyticsCampaignContent"),
        ({"sendLater": True}, "Unknown field 'sendLater'"),
        ({"campaignId": 999999}, "campaignId"),
        ({"savedAudienceId": 999999}, "savedAudienceId"),
    ],
)
def test_a_bad_message_is_refused_naming_the_problem_and_nothing_is_sent(
    api, shop, smtp_server, changes, words
):
    contacts(shop, "Ada")
    response = post(api, shop, **changes)
    assert_error(response, 400, INVALID, words)
    work(budget=5)
    assert nothing_written()
    assert smtp_server.messages == []


def test_another_lists_campaign_or_audience_is_refused(api, shop):
    other = ListFactory(name="Other")
    campaign = create_campaign(email_list=other, name="Theirs")
    assert_error(post(api, shop, campaignId=campaign.pk), 400, INVALID, "campaignId", "no campaign")
    audience = SavedAudience.objects.create(list=other, name="Theirs", criteria={})
    assert_error(post(api, shop, savedAudienceId=audience.pk), 400, INVALID, "savedAudienceId")
    assert nothing_written()


def test_unknown_and_other_lists_ids_are_not_found(api, shop):
    other = ListFactory(name="Other")
    theirs = create_broadcast(
        email_list=other, name="Theirs", message=MessageFactory.create(list=other)
    )
    mine = create_broadcast(
        email_list=shop, name="Mine", message=MessageFactory.create(list=shop, html_body=HTML)
    )
    schedule_broadcast(broadcast=mine, send_at=timezone.now() + datetime.timedelta(days=1))
    their_link = MessageLink.objects.create(
        message=theirs.message, url="https://x.example", url_hash="x"
    )
    base = f"List/{shop.pk}/Message"
    for path in (
        f"{base}/{theirs.pk}",
        f"{base}/999999/Status",
        f"{base}/{theirs.pk}/Summary",
        f"{base}/{theirs.pk}/Activity",
        f"{base}/{theirs.pk}/Link",
    ):
        assert_error(api.get(path), 404, NOT_FOUND, "listId and messageId")
    assert_error(
        api.get(f"{base}/{mine.pk}/Link/{their_link.pk}"),
        404,
        NOT_FOUND,
        "listId, messageId, and messageLinkId",
    )
    assert_error(api.get(f"{base}/{mine.pk}/Link/{their_link.pk}/Clicker"), 404, NOT_FOUND)
    assert_error(api.get("List/999999/Message"), 404, NOT_FOUND, "listId")
    assert_error(api.get(f"{base}/abc"), 400, INVALID, "messageId")
    assert_error(api.get(f"{base}/{mine.pk}/Link/0"), 400, INVALID, "messageLinkId")
    assert_error(api.post("List/999999/Message", body()), 404, NOT_FOUND, "listId")


def test_bad_report_parameters_are_refused_by_name(api, shop):
    mine = create_broadcast(email_list=shop, name="Mine", message=MessageFactory.create(list=shop))
    path = f"List/{shop.pk}/Message/{mine.pk}"
    assert_error(api.get(f"{path}/Activity?dateType=Open"), 400, INVALID, "dateType")
    assert_error(api.get(f"{path}/Activity?activityType=Read"), 400, INVALID, "activityType")
    assert_error(api.get(f"{path}/Activity?emailAddress=bob"), 400, INVALID, "emailAddress")
    assert_error(api.get(f"{path}/Activity?startDate=yesterday"), 400, INVALID, "startDate")
    assert_error(api.get(f"{path}/Link?count=0"), 400, INVALID, "count")
    assert_error(api.get(f"List/{shop.pk}/Message?endDate=13/45/2020"), 400, INVALID, "endDate")
    assert_error(api.get(f"List/{shop.pk}/Message?includeTestMessages=yes"), 400, INVALID)


def test_there_is_no_way_to_change_or_cancel_a_broadcast_here(api, shop):
    mine = create_broadcast(email_list=shop, name="Mine", message=MessageFactory.create(list=shop))
    schedule_broadcast(broadcast=mine, send_at=timezone.now() + datetime.timedelta(days=1))
    path = f"List/{shop.pk}/Message/{mine.pk}"
    assert_error(api.delete(path), 405, "ERROR_UNSUPPORTED_METHOD", "DELETE")
    assert_error(api.put(path, body()), 405, "ERROR_UNSUPPORTED_METHOD", "PUT")
    mine.refresh_from_db()
    assert mine.status == BroadcastStatus.SCHEDULED


# --- The collection ---------------------------------------------------------------------------


def test_the_collection_pages_and_bounds_by_send_date(api, shop):
    sent_at = {}
    for day in (1, 2, 3):
        broadcast = create_broadcast(
            email_list=shop,
            name=f"Day {day}",
            message=MessageFactory.create(list=shop, subject=f"D{day}"),
        )
        when = datetime.datetime(2030, 3, day, 12, tzinfo=datetime.UTC)
        schedule_broadcast(broadcast=broadcast, send_at=when)
        sent_at[day] = broadcast.pk
    create_broadcast(
        email_list=shop, name="Draft", message=MessageFactory.create(list=shop, subject="Dr")
    )
    path = f"List/{shop.pk}/Message"
    every = api.get(path).json()
    assert [m["subject"] for m in every["data"]] == ["D1", "D2", "D3", "Dr"]
    assert every["data"][3]["messageStatus"] == "Draft" and every["data"][3]["sendDate"] is None
    first = api.get(f"{path}?count=2").json()
    assert [m["messageId"] for m in first["data"]] == [sent_at[1], sent_at[2]]
    rest = api.get(f"{path}?count=2&cursor={first['nextPageCursor']}").json()
    assert [m["subject"] for m in rest["data"]] == ["D3", "Dr"] and rest["nextPageCursor"] is None
    bounded = api.get(f"{path}?startDate=2030-03-02&endDate=03/02/2030").json()["data"]
    assert [m["messageId"] for m in bounded] == [sent_at[2]]


# --- Scopes ---------------------------------------------------------------------------------


def test_each_route_needs_the_reference_scopes(db, shop):
    mine = create_broadcast(email_list=shop, name="Mine", message=MessageFactory.create(list=shop))
    path = f"List/{shop.pk}/Message"
    no_message = api_caller(["List", "Report"], name="no message")
    assert_error(no_message.get(path), 401, "ERROR_UNAUTHORIZED", "Message")
    assert_error(no_message.post(path, body()), 401, "ERROR_UNAUTHORIZED", "Message")
    no_report = api_caller(["List", "Message"], name="no report")
    assert no_report.get(f"{path}/{mine.pk}").status_code == 200
    for report in ("Status", "Summary", "Activity", "Link"):
        assert_error(
            no_report.get(f"{path}/{mine.pk}/{report}"), 401, "ERROR_UNAUTHORIZED", "Report"
        )
    assert Broadcast.objects.count() == 1
