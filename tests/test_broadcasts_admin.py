"""A marketer writes a broadcast in the admin, chooses who gets it, sends it
now or at a time in the list's time zone, unschedules or cancels it, watches
it send (through a real SMTP server) and reads its report; and a split test,
judged, its winner sent to the rest. Every page, button and JSON view
refuses staff without the permission it needs, and nothing changes then."""

from __future__ import annotations

import datetime
import html
import json
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from broadcasts.admin_display import when
from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    SavedAudience,
    SplitTest,
    SplitTestStatus,
)
from broadcasts.reports import deliveries
from broadcasts.services import create_broadcast, schedule_broadcast
from broadcasts.split_tests import decide_due
from broadcasts.worker import work
from contacts.models import SubscriptionState
from contacts.services import fire_event, suppress_addresses
from emails.models import DeliveryStatus
from emails.tracking.engagement import Visitor, record_click, record_open
from tests.factories import ContactFactory, EventFactory, ListFactory, MessageFactory
from tests.staff import staff

pytestmark = pytest.mark.django_db

SALE_HTML = (
    "<p>Hello {{ profile.first_name|default:'you' }}</p>"
    '<p><a href="https://shop.example/sale">The sale</a> '
    '<a href="https://shop.example/new">New in</a></p>'
)
MARKETER = (
    "broadcasts.view_broadcast",
    "broadcasts.add_broadcast",
    "broadcasts.change_broadcast",
    "emails.view_message",
    "emails.add_message",
)


def sale(shop, name="Spring sale", **fields):
    return MessageFactory(
        list=shop, name=name, subject="Sale", html_body=SALE_HTML, text_body="", **fields
    )


def customers(shop, *names: str) -> None:
    first_name = shop.profile_fields.get(name="First Name")
    for n, name in enumerate(names):
        again = "" if name not in names[:n] else str(n)  # "ada@", then "ada2@"
        ContactFactory(
            list=shop, email=f"{name.lower()}{again}@example.com", profile={first_name.key: name}
        )


def add_url(shop=None, model="broadcast") -> str:
    url = reverse(f"admin:broadcasts_{model}_add")
    return f"{url}?list={shop.pk}" if shop is not None else url


def change_url(obj) -> str:
    return reverse(f"admin:broadcasts_{obj._meta.model_name}_change", args=[obj.pk])


def said(response) -> list[str]:
    """The messages the page a button led to shows."""
    page = response.client.get(response.url) if response.status_code == 302 else response
    return [str(m) for m in page.context["messages"]]


def first_name_is(shop, value: str) -> str:
    first_name = shop.profile_fields.get(name="First Name")
    return json.dumps(
        {
            "filters": [
                {
                    "segmentationFieldId": first_name.pk,
                    "compareType": "Equals",
                    "values": [{"value": value}],
                }
            ]
        }
    )


def form(message, **fields) -> dict[str, object]:
    return {
        "name": "Spring sale",
        "message": message.pk,
        "campaign": "",
        "audience": "everyone",
        "saved_audience": "",
        "criteria": "",
        "external_campaign_id": "",
        "google_analytics_campaign_name": "",
        "send_date": "",
        "send_time": "",
        **fields,
    }


def text(response) -> str:
    """The page's words, tags and runs of spaces removed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


# --- Writing and sending ------------------------------------------------------------


def test_a_marketer_writes_a_broadcast_sends_it_now_and_reads_its_progress_and_report(
    shop, smtp_server
):
    customers(shop, "Ada", "Bob", "Ada")
    ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )
    message = sale(shop)
    client = staff(*MARKETER)

    # One list: the add page goes straight to its form.
    assert client.get(add_url()).url == add_url(shop)
    page = client.get(add_url(shop))
    assert "This broadcast reaches 3 contacts now." in text(page)
    assert "criteria-builder" in page.content.decode()

    response = client.post(
        add_url(shop),
        form(message, audience="criteria", criteria=first_name_is(shop, "Ada"), _send_now="1"),
    )
    broadcast = Broadcast.objects.get()
    assert response.url == change_url(broadcast)
    assert said(response) == ["“Spring sale” is sending now: follow it below."]
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcast.created_by is not None

    work(budget=10)

    assert sorted(m["To"] for m in smtp_server.messages) == [
        "ada2@example.com",
        "ada@example.com",
    ]
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    sent = list(deliveries(broadcast).select_related("contact", "message"))
    record_open(sent[0], Visitor())
    record_click(
        sent[0], Visitor(), link=sent[0].message.links.get(url="https://shop.example/sale")
    )
    # A purchase after the click is credited to the broadcast's email.
    purchase = EventFactory(list=shop, name="Purchase")
    fire_event(event=purchase, contact=sent[0].contact, data={"orderTotal": 42.5})

    page = text(client.get(change_url(broadcast)))
    assert "Progress · Sent" in page
    assert "Recipients chosen 2 Sent 2 Waiting 0 Not sent 0 Uncertain 0" in page
    assert "Opened 50.0% 1 of 2 delivered" in page
    assert "Clicked 50.0% 1 of 2 delivered" in page
    assert "Conversions 1 purchases credited to it Revenue 42.50 average order 42.50" in page
    assert "https://shop.example/sale 1 100%" in page
    assert "https://shop.example/new 0 0%" in page
    assert "Audience: Subscribed contacts of Shop where First Name is “Ada”" in page
    progress = client.get(reverse("admin:broadcasts_broadcast_progress", args=[broadcast.pk]))
    assert progress.json()["status"] == "Sent"
    assert progress.json()["refreshSeconds"] == 0


def test_while_it_sends_its_page_counts_what_is_left_and_names_why_emails_were_not_sent(shop):
    customers(shop, "Ada", "Bob", "Cy")
    broadcast = create_broadcast(email_list=shop, name="Spring sale", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)
    from broadcasts.sending import choose_recipients, start_due

    start_due()
    choose_recipients()
    suppress_addresses(emails=["bob@example.com"])
    deliveries(broadcast).filter(contact__email="bob@example.com").update(
        status=DeliveryStatus.SKIPPED, error="Not sent: the address is suppressed."
    )
    client = staff("broadcasts.view_broadcast")
    answer = client.get(reverse("admin:broadcasts_broadcast_progress", args=[broadcast.pk])).json()
    assert answer["status"] == "Sending"
    assert answer["refreshSeconds"] == 3
    box = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer["html"]))
    assert "Recipients chosen 3 Sent 0 Waiting 2 Not sent 1 Uncertain 0" in box
    assert "1 — Not sent: the address is suppressed." in box
    assert f"broadcast={broadcast.pk}&amp;status__exact=Skipped" in answer["html"]
    # The deliveries list shows that broadcast's emails, by the link given.
    deliveries_page = staff("emails.view_delivery").get(
        reverse("admin:emails_delivery_changelist")
        + f"?broadcast={broadcast.pk}&status__exact=Skipped"
    )
    assert "bob@example.com" in deliveries_page.content.decode()
    assert "ada@example.com" not in deliveries_page.content.decode()


def test_a_message_only_a_conversation_can_fill_is_refused_in_words_and_stays_a_draft(shop):
    customers(shop, "Ada")
    message = MessageFactory(list=shop, name="Code", subject="Your code {{ coupon }}")
    client = staff(*MARKETER)
    response = client.post(add_url(shop), form(message, name="Codes", _send_now="1"))
    broadcast = Broadcast.objects.get()
    assert broadcast.status == BroadcastStatus.DRAFT
    assert said(response) == [
        "“Codes” was saved as a draft, and not sent:",
        "Message “Code”: It uses {{ coupon }} (given by a conversation's Set Coupon action), "
        "which a broadcast cannot fill.",
    ]
    # Saved alone, it says so too, before anyone tries to send it.
    response = client.post(change_url(broadcast), form(message, name="Codes"))
    assert said(response)[0].startswith(
        "Before it can be sent: Message “Code”: It uses {{ coupon }}"
    )
    # A scheduled broadcast may not be given such a message: it would go unseen.
    later = create_broadcast(email_list=shop, name="Later", message=sale(shop))
    schedule_broadcast(broadcast=later, send_at=timezone.now() + datetime.timedelta(hours=2))
    page = text(client.post(change_url(later), form(message, name="Later")))
    assert "Message “Code”: It uses {{ coupon }}" in page
    later.refresh_from_db()
    assert later.message.name == "Spring sale"


def test_send_at_is_a_day_and_time_in_the_lists_time_zone_said_in_words(shop):
    shop.time_zone = "Europe/London"
    shop.save()
    message = sale(shop)
    client = staff(*MARKETER)
    day = timezone.localdate(timezone=zoneinfo.ZoneInfo("Europe/London")) + datetime.timedelta(
        days=2
    )
    response = client.post(
        add_url(shop), form(message, send_date=day.isoformat(), send_time="09:00", _send_at="1")
    )
    broadcast = Broadcast.objects.get()
    expected = datetime.datetime.combine(day, datetime.time(9), zoneinfo.ZoneInfo("Europe/London"))
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert broadcast.send_at == expected
    words = when(expected, shop)
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3}( \d{4})? 09:00 Europe/London", words)
    assert said(response) == [f"“Spring sale” is scheduled: it sends {words}."]
    page = text(client.get(change_url(broadcast)))
    assert f"Sends {words}." in page

    # A time that has passed, and a missing day, are refused on their fields.
    yesterday = (day - datetime.timedelta(days=3)).isoformat()
    page = text(
        client.post(
            change_url(broadcast),
            form(message, send_date=yesterday, send_time="09:00", _send_at="1"),
        )
    )
    assert "has passed (it is now" in page and "choose a later time, or Send now." in page
    page = text(client.post(change_url(broadcast), form(message, send_time="09:00", _send_at="1")))
    assert "Choose the day to send it on." in page
    broadcast.refresh_from_db()
    assert broadcast.send_at == expected


def test_a_time_the_clocks_skip_is_refused_in_words(shop):
    shop.time_zone = "Europe/London"
    shop.save()
    year = timezone.now().year + 1
    march_31 = datetime.date(year, 3, 31)
    last_sunday = march_31 - datetime.timedelta(days=(march_31.weekday() + 1) % 7)
    page = text(
        staff(*MARKETER).post(
            add_url(shop),
            form(sale(shop), send_date=last_sunday.isoformat(), send_time="01:30", _send_at="1"),
        )
    )
    assert "01:30 does not exist on" in page and "the clocks go forward then." in page
    assert not Broadcast.objects.exists()


def test_unschedule_puts_it_back_to_draft_and_cancel_stops_it_each_said_in_words(shop):
    broadcast = create_broadcast(email_list=shop, name="Later", message=sale(shop))
    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(hours=3))
    client = staff(*MARKETER)
    page = client.get(change_url(broadcast)).content.decode()
    assert 'id="unschedule-button"' in page and 'id="cancel-button"' in page

    response = client.post(reverse("admin:broadcasts_broadcast_unschedule", args=[broadcast.pk]))
    assert said(response) == ["“Later” is a draft again: it is not sent unless you send it."]
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.send_at) == (BroadcastStatus.DRAFT, None)

    response = client.post(reverse("admin:broadcasts_broadcast_unschedule", args=[broadcast.pk]))
    assert said(response) == ["“Later” is draft: only a scheduled broadcast goes back to draft."]

    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(hours=3))
    response = client.post(reverse("admin:broadcasts_broadcast_cancel", args=[broadcast.pk]))
    assert said(response) == ["Cancelled “Later”: nothing was sent."]
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    response = client.post(reverse("admin:broadcasts_broadcast_cancel", args=[broadcast.pk]))
    assert said(response) == ["“Later” is cancelled: it can no longer be cancelled."]


def test_once_started_its_settings_show_as_text_and_cannot_be_posted(shop):
    customers(shop, "Ada")
    broadcast = create_broadcast(email_list=shop, name="Going", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)
    from broadcasts.sending import start_due

    start_due()
    client = staff(*MARKETER)
    page = client.get(change_url(broadcast)).content.decode()
    assert 'name="name"' not in page and 'id="send-now"' not in page
    assert 'id="cancel-button"' in page and 'id="unschedule-button"' not in page
    assert 'data-refresh-seconds="3"' in page
    response = client.post(change_url(broadcast), form(broadcast.message, name="Renamed"))
    assert response.status_code == 403
    broadcast.refresh_from_db()
    assert broadcast.name == "Going"


def test_a_saved_audience_or_conditions_choose_who_gets_it(shop):
    customers(shop, "Ada", "Bob")
    vips = SavedAudience.objects.create(
        list=shop, name="Adas", criteria=json.loads(first_name_is(shop, "Ada"))
    )
    client = staff(*MARKETER)
    message = sale(shop)
    client.post(
        add_url(shop), form(message, name="To Adas", audience="saved", saved_audience=vips.pk)
    )
    broadcast = Broadcast.objects.get(name="To Adas")
    assert (broadcast.saved_audience, broadcast.criteria) == (vips, {})
    assert "This broadcast reaches 1 contact now." in text(client.get(change_url(broadcast)))

    # Saved audience chosen but none picked; conditions that do not fit the list.
    page = text(client.post(add_url(shop), form(message, audience="saved")))
    assert "Choose the saved audience to send to." in page
    bad = json.dumps({"filters": [{"segmentationField": "Shoe size", "compareType": "Equals"}]})
    page = text(client.post(add_url(shop), form(message, audience="criteria", criteria=bad)))
    assert "filters[0]" in page and "Shoe size" in page
    assert Broadcast.objects.count() == 1


def test_the_count_view_counts_everyone_a_saved_audience_or_conditions(shop):
    customers(shop, "Ada", "Bob", "Ada")
    vips = SavedAudience.objects.create(
        list=shop, name="Adas", criteria=json.loads(first_name_is(shop, "Ada"))
    )
    url = reverse("admin:broadcasts_broadcast_audience_count", args=[shop.pk])
    client = staff("broadcasts.add_broadcast")
    assert client.get(url, {"audience": "everyone"}).json() == {"count": 3}
    assert client.get(url, {"audience": "saved", "saved_audience": vips.pk}).json() == {"count": 2}
    assert client.get(url, {"criteria": first_name_is(shop, "Bob")}).json() == {"count": 1}
    assert client.get(url, {"audience": "saved"}).json()["error"] == "Choose a saved audience."
    engagement = json.dumps({"filters": [{"engagement": "Opened", "message": 1}]})
    answer = client.get(url, {"criteria": engagement})
    assert answer.status_code == 400
    assert "an engagement condition counts the emails of a conversation" in answer.json()["error"]
    assert (
        client.get(url, {"criteria": "{"})
        .json()["error"]
        .startswith("The conditions are not valid JSON")
    )


def test_the_list_shows_status_send_time_recipients_sent_and_rates(shop, smtp_server):
    customers(shop, "Ada", "Bob")
    sent = create_broadcast(email_list=shop, name="Spring sale", message=sale(shop))
    schedule_broadcast(broadcast=sent)
    work(budget=10)
    first = deliveries(sent).order_by("pk").select_related("contact").first()
    record_open(first, Visitor())
    later = create_broadcast(email_list=shop, name="Summer", message=sale(shop, name="Summer"))
    at = timezone.now() + datetime.timedelta(days=1)
    schedule_broadcast(broadcast=later, send_at=at)
    listing = staff("broadcasts.view_broadcast").get(
        reverse("admin:broadcasts_broadcast_changelist")
    )
    page = text(listing)
    local = timezone.localtime(at, shop.zone)
    short = f"{local:%a} {local.day} {local:%b} {local:%H:%M} {local.tzname()}"
    assert f"Summer Scheduled {short} — — — " in page
    assert f'title="{when(at, shop)}"' in listing.content.decode()  # the zone's name on hover
    assert "Spring sale Sent" in page
    assert " 2 2 50.0% · 0.0% " in page


def test_a_broadcast_of_another_list_is_not_offered(shop):
    other = ListFactory(name="Club")
    theirs = MessageFactory(list=other, name="Theirs")
    page = text(staff(*MARKETER).post(add_url(shop), form(theirs)))
    assert "Select a valid choice" in page
    assert not Broadcast.objects.exists()
    # Two lists: the add page asks which.
    choose = staff(*MARKETER).get(add_url())
    assert "New broadcast: which list?" in text(choose)
    assert f"?list={other.pk}" in choose.content.decode()


# --- Split tests ----------------------------------------------------------------------


def split_form(*messages, **fields) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Subject test",
        "campaign": "",
        "test_share": 50,
        "winner_metric": "Clicks",
        "decide_hours": 1,
        "decide_minutes": 30,
        "audience": "everyone",
        "saved_audience": "",
        "criteria": "",
        "send_date": "",
        "send_time": "",
        **fields,
    }
    for letter, message in zip("abcde", messages, strict=False):
        data[f"message_{letter}"] = message.pk
    return data


def test_a_split_test_is_written_sent_judged_and_its_winner_sent_to_the_rest(shop, smtp_server):
    for n in range(40):
        ContactFactory(list=shop, email=f"c{n}@example.com")
    first, second = sale(shop, "Subject A"), sale(shop, "Subject B")
    client = staff(
        "broadcasts.view_splittest", "broadcasts.add_splittest", "broadcasts.change_splittest"
    )
    page = text(client.get(add_url(shop, "splittest")))
    assert "This split test reaches 40 contacts now." in page
    response = client.post(add_url(shop, "splittest"), split_form(first, second, _send_now="1"))
    split_test = SplitTest.objects.get()
    assert said(response) == ["“Subject test” is sending its groups now: follow them below."]
    assert split_test.decide_after == datetime.timedelta(hours=1, minutes=30)

    work(budget=10)
    groups = {g.split_group: g for g in split_test.broadcasts.all()}
    tested = sum(g.recipients for g in groups.values())
    assert 0 < tested < 40 and len(smtp_server.messages) == tested
    page = text(client.get(change_url(split_test)))
    assert "Each of the 2 groups gets 25% of the audience; the other 50% get the winner." in page
    assert "The winner is chosen by clicks at" in page

    # Group B's contacts click more.
    b_sent = list(deliveries(groups["B"]).select_related("message"))
    record_click(b_sent[0], Visitor(), link=b_sent[0].message.links.first())
    decide_due(now=timezone.now() + datetime.timedelta(hours=2))
    work(budget=10)
    split_test.refresh_from_db()
    assert split_test.status == SplitTestStatus.FINISHED
    rest = split_test.broadcasts.get(split_group="Remainder")
    assert tested + rest.recipients == 40 == len(smtp_server.messages)

    page = text(client.get(change_url(split_test)))
    b_rate = f"{1 / len(b_sent):.1%}"
    assert (
        f"Group B won with {b_rate} clicks against 0.0%; sent to the remaining "
        f"{rest.recipients} contacts." in page
    )
    assert "★ Winner" in page
    progress = client.get(reverse("admin:broadcasts_splittest_progress", args=[split_test.pk]))
    assert progress.json()["status"] == "Finished"
    assert "Group B won with" in progress.json()["html"]
    listing = text(client.get(reverse("admin:broadcasts_splittest_changelist")))
    assert "Subject test Finished" in listing and "Group B" in listing


def test_a_split_test_needs_two_different_messages_and_a_minute_to_decide(shop):
    message = sale(shop)
    client = staff("broadcasts.view_splittest", "broadcasts.add_splittest")
    page = text(client.post(add_url(shop, "splittest"), split_form(message)))
    assert "Group B's message" in page and "This field is required." in page
    page = text(
        client.post(
            add_url(shop, "splittest"),
            split_form(message, message, decide_hours=0, decide_minutes=0),
        )
    )
    assert "Group A sends “Spring sale” already: each group needs a message of its own." in page
    assert "Judge the groups at least a minute after sending." in page
    assert not SplitTest.objects.exists()


def test_a_draft_split_test_is_sent_and_cancelled_from_its_page(shop):
    client = staff(
        "broadcasts.view_splittest", "broadcasts.add_splittest", "broadcasts.change_splittest"
    )
    client.post(add_url(shop, "splittest"), split_form(sale(shop, "A"), sale(shop, "B")))
    split_test = SplitTest.objects.get()
    assert split_test.status == SplitTestStatus.DRAFT
    page = client.get(change_url(split_test)).content.decode()
    assert 'id="send-now"' in page and 'id="cancel-button"' in page
    schedule = reverse("admin:broadcasts_splittest_schedule", args=[split_test.pk])
    response = client.post(schedule, {"_send_at": "1", "send_date": "", "send_time": "10:00"})
    assert said(response) == ["Not scheduled: Choose the day to send it on."]
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    response = client.post(schedule, {"_send_at": "1", "send_date": tomorrow, "send_time": "10:00"})
    split_test.refresh_from_db()
    assert split_test.status == SplitTestStatus.SCHEDULED
    assert said(response)[0].startswith("“Subject test” is scheduled: its groups are sent ")
    response = client.post(reverse("admin:broadcasts_splittest_cancel", args=[split_test.pk]))
    split_test.refresh_from_db()
    assert split_test.status == SplitTestStatus.CANCELLED
    assert set(split_test.broadcasts.values_list("status", flat=True)) == {"Cancelled"}


# --- Permissions ----------------------------------------------------------------------


def broadcast_urls(broadcast, shop) -> dict[str, str]:
    return {
        "changelist": reverse("admin:broadcasts_broadcast_changelist"),
        "add": add_url(shop),
        "change": change_url(broadcast),
        "count": reverse("admin:broadcasts_broadcast_audience_count", args=[shop.pk]),
        "progress": reverse("admin:broadcasts_broadcast_progress", args=[broadcast.pk]),
    }


def test_staff_without_permissions_get_403_on_every_page_button_and_view(shop):
    broadcast = create_broadcast(email_list=shop, name="Later", message=sale(shop))
    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(hours=3))
    split_test_client = staff(
        "broadcasts.view_splittest", "broadcasts.add_splittest", "broadcasts.change_splittest"
    )
    split_test_client.post(add_url(shop, "splittest"), split_form(sale(shop, "A"), sale(shop, "B")))
    split_test = SplitTest.objects.get()
    nobody = staff()
    for name, url in broadcast_urls(broadcast, shop).items():
        assert nobody.get(url).status_code == 403, name
    for url in (
        reverse("admin:broadcasts_splittest_changelist"),
        add_url(shop, "splittest"),
        change_url(split_test),
        reverse("admin:broadcasts_splittest_progress", args=[split_test.pk]),
    ):
        assert nobody.get(url).status_code == 403, url
    for button in ("unschedule", "cancel"):
        url = reverse(f"admin:broadcasts_broadcast_{button}", args=[broadcast.pk])
        assert nobody.post(url).status_code == 403
    for button in ("schedule", "cancel"):
        url = reverse(f"admin:broadcasts_splittest_{button}", args=[split_test.pk])
        assert nobody.post(url, {"_send_now": "1"}).status_code == 403
    broadcast.refresh_from_db()
    split_test.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED
    assert split_test.status == SplitTestStatus.DRAFT


def test_viewers_follow_a_broadcast_but_press_no_button_and_send_nothing(shop):
    customers(shop, "Ada")
    broadcast = create_broadcast(email_list=shop, name="Later", message=sale(shop))
    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(hours=3))
    viewer = staff("broadcasts.view_broadcast", "broadcasts.view_splittest")
    urls = broadcast_urls(broadcast, shop)
    for name in ("changelist", "change", "count", "progress"):
        assert viewer.get(urls[name]).status_code == 200, name
    assert viewer.get(urls["add"]).status_code == 403
    page = viewer.get(urls["change"]).content.decode()
    assert 'id="send-now"' not in page and 'id="cancel-button"' not in page
    for button in ("unschedule", "cancel"):
        url = reverse(f"admin:broadcasts_broadcast_{button}", args=[broadcast.pk])
        response = viewer.post(url)
        assert response.status_code == 403
        assert "needs the permission to change broadcasts" in response.content.decode()
    response = viewer.post(urls["change"], form(broadcast.message, _send_now="1"))
    assert response.status_code == 403
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED


def test_who_may_only_add_saves_drafts_but_cannot_send_them(shop):
    writer = staff("broadcasts.add_broadcast", "broadcasts.view_broadcast")
    message = sale(shop)
    page = text(writer.get(add_url(shop)))
    assert "sending it needs the permission to change broadcasts." in page
    assert writer.post(add_url(shop), form(message, _send_now="1")).status_code == 403
    assert not Broadcast.objects.exists()
    assert writer.post(add_url(shop), form(message)).status_code == 302
    assert Broadcast.objects.get().status == BroadcastStatus.DRAFT
    split = staff("broadcasts.add_splittest", "broadcasts.view_splittest")
    response = split.post(
        add_url(shop, "splittest"), split_form(sale(shop, "A"), sale(shop, "B"), _send_now="1")
    )
    assert response.status_code == 403
    assert not SplitTest.objects.exists()
    viewer = staff("broadcasts.view_splittest")
    split.post(add_url(shop, "splittest"), split_form(sale(shop, "C"), sale(shop, "D")))
    split_test = SplitTest.objects.get()
    response = viewer.post(
        reverse("admin:broadcasts_splittest_schedule", args=[split_test.pk]), {"_send_now": "1"}
    )
    assert response.status_code == 403
    assert "needs the permission to change split tests" in response.content.decode()
    split_test.refresh_from_db()
    assert split_test.status == SplitTestStatus.DRAFT


def test_a_draft_split_test_is_deleted_with_its_groups_by_whoever_may_delete_split_tests(shop):
    import datetime as _datetime

    from broadcasts.models import Broadcast, SplitTest
    from broadcasts.services import create_split_test
    from tests.factories import MessageFactory
    from tests.staff import staff

    split = create_split_test(
        email_list=shop,
        name="Subjects",
        messages=[MessageFactory(list=shop), MessageFactory(list=shop)],
        test_share=20,
        winner_metric="Clicks",
        decide_after=_datetime.timedelta(hours=1),
    )
    client = staff("broadcasts.view_splittest", "broadcasts.delete_splittest")
    url = f"/admin/broadcasts/splittest/{split.pk}/delete/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not SplitTest.objects.exists() and not Broadcast.objects.exists()
    assert staff("broadcasts.view_splittest").post(url, {"post": "yes"}).status_code == 403
