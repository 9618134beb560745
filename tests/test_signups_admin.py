"""Subscription points in the admin, as a marketer uses them: adding one
(its own event, then its page), the fields it asks for (of its list only, in
order), the checks on origins, thank-you page and event, the "Put it on
your site" panel with its snippets and preview, the report (signups per day
in the list's time zone, bots apart; the conversations its contacts
entered), the list of points, the home page's row, and every refusal."""

from __future__ import annotations

import datetime
import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conductor.models import EnrollmentState, TriggerKind
from lists.models import DataType, EventStatus, List
from signups import snippets
from signups.admin_page import NO_ORIGINS
from signups.models import PointField, Signup, SignupOutcome, SubscriptionPoint
from signups.reports import conversations_entered, daily_signups, signups_today
from signups.services import save_point
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    EnrollmentFactory,
    EventFactory,
    ListFactory,
    ProfileFieldFactory,
    TriggerFactory,
    main_thread,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

ADD = "/admin/signups/subscriptionpoint/add/"
CHANGELIST = "/admin/signups/subscriptionpoint/"
ALL = (
    "signups.view_subscriptionpoint",
    "signups.add_subscriptionpoint",
    "signups.change_subscriptionpoint",
    "signups.delete_subscriptionpoint",
)


def change_url(point: SubscriptionPoint) -> str:
    return reverse("admin:signups_subscriptionpoint_change", args=[point.pk])


def make_point(email_list: List, name: str = "Footer", **values: Any) -> SubscriptionPoint:
    values.setdefault("allowed_origins", "https://shop.example")
    return save_point(SubscriptionPoint(list=email_list, name=name, **values))


def form_data(point: SubscriptionPoint | None = None, **changes: Any) -> dict[str, Any]:
    """What the point's admin form posts: its values, with ``changes``."""
    point = point or SubscriptionPoint()
    data = {
        "list": point.list_id or "",
        "name": point.name,
        "is_active": "on" if point.is_active else "",
        "event": point.event_id or "",
        "double_opt_in": "on" if point.double_opt_in else "",
        "method": point.method,
        "heading": point.heading,
        "intro": point.intro,
        "button_label": point.button_label,
        "consent_text": point.consent_text,
        "thank_you_text": point.thank_you_text,
        "redirect_url": point.redirect_url,
        "allowed_origins": point.allowed_origins,
        "popup_opening": point.popup_opening,
        "popup_delay_seconds": point.popup_delay_seconds,
        "signups_per_minute": point.signups_per_minute,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v not in ("", None) or k in ("event", "list")}


def with_fields(point: SubscriptionPoint, rows: list[tuple[Any, bool, int]], **changes: Any):
    """The change form's post with the inline's rows (field, required, position)
    in place of those the point has."""
    data = form_data(point, **changes)
    existing = list(point.fields.all())
    data.update(
        {
            "fields-TOTAL_FORMS": str(len(existing) + len(rows)),
            "fields-INITIAL_FORMS": str(len(existing)),
            "fields-MIN_NUM_FORMS": "0",
            "fields-MAX_NUM_FORMS": "1000",
        }
    )
    for n, old in enumerate(existing):
        data.update({f"fields-{n}-id": old.pk, f"fields-{n}-point": point.pk})
        data.update({f"fields-{n}-field": old.field_id, f"fields-{n}-position": old.position})
        data[f"fields-{n}-DELETE"] = "on"
    for n, (field, required, position) in enumerate(rows, start=len(existing)):
        data[f"fields-{n}-point"] = point.pk
        data[f"fields-{n}-field"] = getattr(field, "pk", field)
        data[f"fields-{n}-position"] = position
        if required:
            data[f"fields-{n}-required"] = "on"
    return data


class Page(HTMLParser):
    """What a page shows: each select's options, each table's rows of cell
    texts (by the table's or its section's id), and the error lists' texts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.options: dict[str, list[str]] = {}
        self.selected: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.errors: list[str] = []
        self._select: str | None = None
        self._section = ""
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._error: list[str] | None = None
        self._text: list[str] | None = None
        self._chosen = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "select":
            self._select = a.get("name") or ""
            self.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self._text = []
            self._chosen = "selected" in a
        elif tag == "section" and a.get("id"):
            self._section = a["id"] or ""
        elif tag == "table":
            self._table = self.tables.setdefault(a.get("id") or self._section, [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img" and self._cell is not None:
            self._cell.append(a.get("alt") or "")
        elif tag == "ul" and "errorlist" in (a.get("class") or ""):
            self._error = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "option" and self._text is not None and self._select is not None:
            self.options[self._select].append("".join(self._text).strip())
            if self._chosen:
                self.selected[self._select] = self.options[self._select][-1]
            self._text = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "ul" and self._error is not None:
            self.errors.append(" ".join("".join(self._error).split()))
            self._error = None

    def handle_data(self, data: str) -> None:
        for sink in (self._text, self._cell, self._error):
            if sink is not None:
                sink.append(data)


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def club() -> List:
    """Another list, with a field and an event of its own."""
    club = ListFactory.create(name="Club")
    ProfileFieldFactory.create(list=club, group__list=club, name="Shoe size")
    EventFactory.create(list=club, name="Club joined")
    return club


@pytest.fixture
def banner(shop: List):
    """A content block of the shop: not for visitors to fill in."""
    group = shop.profile_fields.get(name="First Name").group
    return ProfileFieldFactory.create(group=group, name="Banner", data_type=DataType.CONTENT_BLOCK)


# --- Adding a point ---------------------------------------------------------------------


def test_adding_a_point_gives_it_its_own_event_and_opens_its_page(admin_client, shop):
    response = admin_client.post(
        ADD, form_data(SubscriptionPoint(list=shop, name="Pop-up", allowed_origins=""))
    )
    point = SubscriptionPoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(point)
    assert point.event is not None and point.event.name == "Signup: Pop-up"
    assert point.event.list == shop
    shown = page(admin_client, change_url(point))
    assert "was added, with the event “Signup: Pop-up”" in shown
    assert "Now choose the fields it asks for" in shown


def test_add_another_stays_on_the_add_page(admin_client, shop):
    data = form_data(SubscriptionPoint(list=shop, name="Footer"), _addanother="1")
    response = admin_client.post(ADD, data)
    assert response["Location"] == ADD


def test_the_add_page_says_the_fields_are_chosen_once_the_list_is_known(admin_client, shop, club):
    shown = page(admin_client, ADD)
    assert "What it asks" in shown
    assert "Choose its list above and save" in shown
    assert "fields-TOTAL_FORMS" not in shown  # no inline before the list is known
    # Every list's events, each saying whose it is.
    assert Page(shown).options["event"] == ["---------", "Club: Club joined"]
    for heading in ("The point", "What happens", "What visitors see", "Where it is used", "Limits"):
        assert f">{heading}</h2>" in shown


def test_an_event_of_another_list_is_refused(admin_client, shop, club):
    event = club.events.get()
    data = form_data(SubscriptionPoint(list=shop, name="Footer"), event=event.pk)
    response = admin_client.post(ADD, data)
    assert response.status_code == 200
    assert (
        "Event “Club joined” belongs to another list than Shop."
        in Page(response.content.decode()).errors
    )
    assert not SubscriptionPoint.objects.exists()


def test_a_bad_origin_is_refused_naming_the_line(admin_client, shop):
    origins = "https://www.shop.example\nftp://files.shop.example\nhttps://shop.example/path"
    data = form_data(SubscriptionPoint(list=shop, name="Footer", allowed_origins=origins))
    response = admin_client.post(ADD, data)
    errors = " ".join(Page(response.content.decode()).errors)
    assert "Each line must be an origin such as https://www.example.com." in errors
    assert "“ftp://files.shop.example”" in errors
    assert "“https://shop.example/path”" in errors
    assert "www.shop.example”" not in errors  # the good line is not blamed
    assert not SubscriptionPoint.objects.exists()


def test_origins_are_saved_normalised(admin_client, shop):
    origins = "HTTPS://Shop.Example/\n\nhttps://shop.example:443\nhttp://localhost:8001"
    admin_client.post(
        ADD, form_data(SubscriptionPoint(list=shop, name="F", allowed_origins=origins))
    )
    assert SubscriptionPoint.objects.get().origins == [
        "https://shop.example",
        "http://localhost:8001",
    ]


def test_a_thank_you_page_off_the_allowed_origins_is_refused(admin_client, shop):
    point = SubscriptionPoint(
        list=shop,
        name="Footer",
        allowed_origins="https://shop.example",
        redirect_url="https://elsewhere.example/thanks",
    )
    response = admin_client.post(ADD, form_data(point))
    errors = Page(response.content.decode()).errors
    assert (
        "The thank-you page must be on one of the allowed origins (https://shop.example); "
        "add https://elsewhere.example there first." in errors
    )
    assert not SubscriptionPoint.objects.exists()
    point.redirect_url = "https://shop.example/thanks"
    admin_client.post(ADD, form_data(point))
    assert SubscriptionPoint.objects.get().redirect_url == "https://shop.example/thanks"


# --- The fields it asks for ---------------------------------------------------------------


def test_the_change_page_offers_only_the_fields_and_events_of_the_points_list(
    admin_client, shop, club, banner
):
    point = make_point(shop)
    EventFactory.create(list=shop, name="Newsletter")
    shown = Page(page(admin_client, change_url(point)))
    assert shown.options["fields-0-field"] == [
        "---------",
        "Birthday (Date)",
        "First Name (Text)",
        "Points (Numeric)",
        "VIP (Check box)",
    ]
    assert shown.options["event"] == ["---------", "Newsletter", "Signup: Footer"]


def test_the_fields_are_asked_in_the_order_given(admin_client, shop):
    point = make_point(shop)
    first, birthday, points = (
        shop.profile_fields.get(name=n) for n in ("First Name", "Birthday", "Points")
    )
    rows = [(first, True, 2), (birthday, False, 0), (points, False, 1)]
    response = admin_client.post(change_url(point), with_fields(point, rows))
    assert response.status_code == 302, Page(response.content.decode()).errors
    assert [(f.field.name, f.required) for f in point.fields.all()] == [
        ("Birthday", False),
        ("Points", False),
        ("First Name", True),
    ]
    shown = Page(page(admin_client, change_url(point)))
    assert [shown.selected[f"fields-{n}-field"] for n in range(3)] == [
        "Birthday (Date)",
        "Points (Numeric)",
        "First Name (Text)",
    ]
    hosted = page(Client(), f"/s/{point.key}/")
    labels = [label.strip(" :") for label in re.findall(r"<label[^>]*>([^<]+)", hosted)]
    assert labels[:4] == ["Email address", "Birthday", "Points", "First Name"]


def test_a_field_of_another_list_is_refused_naming_it(admin_client, shop, club):
    point = make_point(shop)
    shoe = club.profile_fields.get()
    response = admin_client.post(change_url(point), with_fields(point, [(shoe, False, 0)]))
    assert response.status_code == 200
    assert (
        "“Shoe size” is a field of the list “Club”, not of this point's list “Shop”: choose "
        "one of its fields." in Page(response.content.decode()).errors
    )
    assert not PointField.objects.exists()


def test_a_content_block_is_refused_naming_it(admin_client, shop, banner):
    point = make_point(shop)
    response = admin_client.post(change_url(point), with_fields(point, [(banner, False, 0)]))
    assert (
        "“Banner” is a content block, which visitors cannot fill in: choose a field of "
        "another type." in Page(response.content.decode()).errors
    )
    assert not PointField.objects.exists()


def test_a_field_asked_twice_is_refused(admin_client, shop):
    point = make_point(shop)
    first = shop.profile_fields.get(name="First Name")
    data = with_fields(point, [(first, False, 0), (first, True, 1)])
    response = admin_client.post(change_url(point), data)
    assert "The form would ask for “First Name” twice: keep one row." in response.content.decode()
    assert not PointField.objects.exists()


def test_an_unknown_field_is_refused_in_words(admin_client, shop):
    point = make_point(shop)
    response = admin_client.post(change_url(point), with_fields(point, [("999999", False, 0)]))
    assert "There is no profile field “999999”." in Page(response.content.decode()).errors


def test_the_list_can_change_until_the_point_takes_signups(admin_client, shop, club):
    point = make_point(shop)
    response = admin_client.post(change_url(point), with_fields(point, [], list=club.pk, event=""))
    assert response.status_code == 302, Page(response.content.decode()).errors
    point.refresh_from_db()
    assert point.list == club
    assert point.event is not None and point.event.list == club  # its old event was of Shop
    Signup.objects.create(point=point, outcome=SignupOutcome.HONEYPOT)
    shown = page(admin_client, change_url(point))
    assert "It cannot change: the point has taken signups" in shown
    assert 'name="list"' not in shown
    admin_client.post(change_url(point), with_fields(point, [], list=shop.pk, name="Renamed"))
    point.refresh_from_db()
    assert (point.list, point.name) == (club, "Renamed")


# --- Put it on your site ------------------------------------------------------------------


def test_the_page_shows_the_three_snippets_ready_to_copy_and_where_each_goes(admin_client, shop):
    point = make_point(shop, popup_delay_seconds=8)
    PointField.objects.create(point=point, field=shop.profile_fields.get(name="First Name"))
    shown = page(admin_client, change_url(point))
    panel = shown[shown.index('id="put-it-on-your-site"') :]
    words = html.unescape(panel)
    for ident, text in (
        ("hosted", snippets.hosted_url(point)),
        ("form", snippets.html_form(point)),
        ("popup", snippets.popup_tag(point)),
    ):
        area = re.search(
            rf'<textarea id="snippet-{ident}-text"[^>]*readonly[^>]*>(.*?)</textarea>', panel, re.S
        )
        assert area is not None, ident
        assert html.unescape(area.group(1)) == text
        assert f'data-copy="snippet-{ident}-text">Copy</button>' in panel
    assert "link to it from emails, social posts, or a QR code" in words
    assert "Paste it into your site's page where the form should appear" in words
    assert "It opens 8 seconds after the page loads, once per visitor." in words
    assert 'name="field_' in html.unescape(panel)  # the form asks for First Name


def test_the_preview_shows_the_form_in_a_frame_that_cannot_post_or_run_scripts(admin_client, shop):
    point = make_point(shop, heading="Ten percent off", intro="Join the club.")
    PointField.objects.create(point=point, field=shop.profile_fields.get(name="Birthday"))
    shown = page(admin_client, change_url(point))
    frame = re.search(r"<iframe ([^>]*)>", shown)
    assert frame is not None
    assert 'sandbox=""' in frame.group(1)  # neither forms nor scripts
    document = html.unescape(re.search(r'srcdoc="([^"]*)"', frame.group(1)).group(1))
    assert "<h1>Ten percent off</h1>" in document
    assert "Join the club." in document
    assert 'type="date"' in document
    assert f'data-popup-src="/s/{point.key}/popup.js?preview=1"' in shown


def test_the_page_runs_no_inline_script(admin_client, shop):
    """The admin's Content-Security-Policy runs scripts from files only."""
    shown = page(admin_client, change_url(make_point(shop)))
    for tag in re.findall(r"<script\b[^>]*>", shown):
        assert "src=" in tag, tag
    assert "/static/signups/admin.js" in shown
    policy = admin_client.get(change_url(make_point(shop, name="Other")))["Content-Security-Policy"]
    assert "script-src 'self'" in policy


def test_a_point_without_origins_is_warned_about(admin_client, shop):
    point = make_point(shop, allowed_origins="")
    assert NO_ORIGINS in html.unescape(page(admin_client, change_url(point)))
    point.allowed_origins = "https://shop.example"
    point.save()
    assert NO_ORIGINS not in html.unescape(page(admin_client, change_url(point)))


def test_a_blocked_event_is_warned_about(admin_client, shop):
    point = make_point(shop)
    assert point.event is not None
    point.event.status = EventStatus.BLOCKED
    point.event.save()
    shown = html.unescape(page(admin_client, change_url(point)))
    assert "Its event “Signup: Footer” is blocked: signups here fire nothing" in shown
    assert "Signup: Footer (blocked)" in page(admin_client, CHANGELIST)


def test_a_consent_box_is_warned_about(admin_client, shop):
    point = make_point(shop)
    warning = "Its consent box subscribes again, at once and with no confirmation email"
    assert warning not in html.unescape(page(admin_client, change_url(point)))
    point.consent_text = "Yes, email me offers again"
    point.save()
    assert warning in html.unescape(page(admin_client, change_url(point)))


def test_confirmation_on_a_list_without_double_opt_in_is_warned_about(admin_client, shop):
    point = make_point(shop, double_opt_in=True)
    shown = html.unescape(page(admin_client, change_url(point)))
    assert "This point asks for confirmation, but its list “Shop” has double opt-in off" in shown
    shop.double_opt_in = True
    shop.from_email = "news@shop.example"
    shop.save()
    shown = html.unescape(page(admin_client, change_url(point)))
    assert "asks for confirmation, but" not in shown
    assert "has no from address" not in shown


def test_confirmation_from_a_list_without_a_sender_says_who_sends_it(admin_client, shop, settings):
    settings.DEFAULT_FROM_EMAIL = "platform@example.com"
    shop.double_opt_in, shop.from_name, shop.from_email = True, "Shop", ""
    shop.save()
    shown = html.unescape(page(admin_client, change_url(make_point(shop, double_opt_in=True))))
    assert (
        "the list “Shop” has no from address: it will come from Shop <platform@example.com>"
        in shown
    )


# --- The pop-up's preview -------------------------------------------------------------------


def popup_config(response) -> dict[str, Any]:
    """The config the pop-up script was given (the template embeds it as JSON)."""
    body = response.content.decode()
    match = re.search(r'(\{"key": .*\})', body)
    assert match is not None, body[:300]
    return json.loads(match.group(1).replace("\\u003c", "<").replace("\\u003e", ">"))


def test_the_preview_flag_is_honoured_for_staff_who_may_view_points(shop):
    point = make_point(shop)
    url = f"/s/{point.key}/popup.js?preview=1"
    response = staff("signups.view_subscriptionpoint").get(url)
    assert response.status_code == 200
    assert popup_config(response)["preview"] is True
    assert response["Cache-Control"] == "no-store"
    assert popup_config(Client().get(f"/s/{point.key}/popup.js"))["preview"] is False


def test_the_preview_flag_is_refused_to_visitors_and_to_staff_without_view_permission(shop):
    point = make_point(shop)
    url = f"/s/{point.key}/popup.js?preview=1"
    for client in (Client(), staff(), staff("contacts.view_contact")):
        response = client.get(url)
        assert response.status_code == 403
        assert "The preview is for signed-in staff" in response.content.decode()


def test_staff_preview_a_closed_point_visitors_do_not_get(shop):
    point = make_point(shop, is_active=False)
    assert Client().get(f"/s/{point.key}/popup.js").status_code == 404
    response = staff("signups.view_subscriptionpoint").get(f"/s/{point.key}/popup.js?preview=1")
    assert response.status_code == 200


# --- The report -------------------------------------------------------------------------------


def at(day: datetime.date, hour: int, minute: int, zone: str) -> datetime.datetime:
    return datetime.datetime.combine(
        day, datetime.time(hour, minute), tzinfo=List(time_zone=zone).zone
    )


def signups_across_midnight(point: SubscriptionPoint, today: datetime.date) -> None:
    """In New York: yesterday evening (already today in UTC) and today."""
    zone = "America/New_York"
    yesterday = today - datetime.timedelta(days=1)
    made = [
        (at(yesterday, 21, 30, zone), SignupOutcome.SUBSCRIBED),  # 01:30 UTC today
        (at(yesterday, 23, 59, zone), SignupOutcome.PENDING),
        (at(yesterday, 23, 59, zone), SignupOutcome.HONEYPOT),
        (at(today, 0, 1, zone), SignupOutcome.SUBSCRIBED),
        (at(today, 0, 2, zone), SignupOutcome.SUBSCRIBED),
        (at(today, 9, 0, zone), SignupOutcome.ALREADY_SUBSCRIBED),
        (at(today, 9, 5, zone), SignupOutcome.KEPT_UNSUBSCRIBED),
        (at(today, 9, 6, zone), SignupOutcome.REFUSED),
        (at(today, 9, 7, zone), SignupOutcome.RESUBSCRIBED),
        (at(today, 9, 8, zone), SignupOutcome.TOO_FAST),
        (at(today, 9, 9, zone), SignupOutcome.TOO_FAST),
        (at(today - datetime.timedelta(days=30), 12, 0, zone), SignupOutcome.SUBSCRIBED),  # too old
    ]
    for created_at, outcome in made:
        contact = (
            None if outcome in ("honeypot", "too_fast") else ContactFactory.create(list=point.list)
        )
        Signup.objects.create(point=point, contact=contact, outcome=outcome, created_at=created_at)


def test_signups_are_counted_per_day_of_the_lists_time_zone_and_bots_apart():
    shop = ListFactory.create(name="Shop", time_zone="America/New_York")
    point = make_point(shop)
    other = make_point(shop, name="Other")
    today = datetime.date(2025, 3, 12)
    signups_across_midnight(point, today)
    Signup.objects.create(
        point=other, outcome=SignupOutcome.SUBSCRIBED, created_at=at(today, 9, 0, "UTC")
    )
    daily = daily_signups(point, today=today)
    assert len(daily.days) == 30
    assert (daily.days[0].day, daily.days[-1].day) == (today - datetime.timedelta(days=29), today)
    yesterday, this_day = daily.days[-2], daily.days[-1]
    assert (yesterday.people, yesterday.bots) == (2, 1)
    assert yesterday.counts["subscribed"] == 1 and yesterday.counts["pending"] == 1
    assert (this_day.people, this_day.bots) == (6, 2)
    assert this_day.counts == {
        "subscribed": 2,
        "pending": 0,
        "already": 1,
        "resubscribed": 1,
        "unsubscribed": 1,
        "refused": 1,
        "honeypot": 0,
        "too_fast": 2,
    }
    assert (daily.people, daily.bots) == (8, 3)
    assert sum(day.people for day in daily.days[:-2]) == 0


def test_the_report_on_the_points_page_shows_the_chart_and_the_figures(admin_client):
    shop = ListFactory.create(name="Shop", time_zone="America/New_York")
    point = make_point(shop)
    today = timezone.localdate(timezone=shop.zone)
    signups_across_midnight(point, today)
    shown = page(admin_client, change_url(point))
    report = shown[shown.index('id="point-report"') :]
    assert "days in America/New_York" in report
    svg = re.search(r"<svg .*?</svg>", report, re.S).group(0)
    assert "8 signups of people" in svg and "3 posts refused as bots" in svg
    rows = Page(report).tables["report-daily"]
    assert rows[0] == [
        "Day",
        "New",
        "Awaiting confirmation",
        "Already subscribed",
        "Subscribed again",
        "Kept unsubscribed",
        "Refused",
        "People",
        "Bot: hidden field",
        "Bot: too fast",
        "Bots",
    ]
    day = f"{today:%a} {today.day} {today:%b}"
    yesterday = today - datetime.timedelta(days=1)
    assert rows[1] == [day, "2", "0", "1", "1", "1", "1", "6", "0", "2", "2"]
    assert rows[2] == [
        f"{yesterday:%a} {yesterday.day} {yesterday:%b}",
        "1",
        "1",
        "0",
        "0",
        "0",
        "0",
        "2",
        "1",
        "0",
        "1",
    ]
    assert len(rows) == 31
    latest = Page(report).tables["report-latest"]
    assert latest[1][1] == "Refused as a bot: sent too fast"
    assert any(row[2].endswith("@example.com") for row in latest[1:])


def test_the_latest_signups_hide_addresses_from_who_may_not_view_contacts(shop):
    point = make_point(shop)
    contact = ContactFactory.create(list=shop, email="ada@example.com")
    Signup.objects.create(point=point, contact=contact, outcome=SignupOutcome.SUBSCRIBED)
    assert "ada@example.com" not in page(staff("signups.view_subscriptionpoint"), change_url(point))
    both = staff("signups.view_subscriptionpoint", "contacts.view_contact")
    assert "ada@example.com" in page(both, change_url(point))


def test_the_conversations_a_points_contacts_entered_are_counted_per_conversation(
    admin_client, shop
):
    point = make_point(shop)
    welcome = ConversationFactory.create(list=shop, name="Welcome")
    through_event = TriggerFactory.create(conversation=welcome, event=point.event)
    on_subscribe = TriggerFactory.create(conversation=welcome, kind=TriggerKind.SUBSCRIBE)
    birthday = ConversationFactory.create(list=shop, name="Birthday")
    untouched = ConversationFactory.create(list=shop, name="Cart")
    signed_up = timezone.now() - datetime.timedelta(days=3)
    ada, bob, cy, dee = (ContactFactory.create(list=shop) for _ in range(4))
    for contact in (ada, bob, cy):
        Signup.objects.create(
            point=point, contact=contact, outcome="subscribed", created_at=signed_up
        )
    Signup.objects.create(point=point, outcome=SignupOutcome.HONEYPOT, created_at=signed_up)

    def enter(conversation, contact, days_after: float, trigger=None, state=EnrollmentState.ACTIVE):
        EnrollmentFactory.create(
            thread=main_thread(conversation),
            contact=contact,
            entered_at=signed_up + datetime.timedelta(days=days_after),
            trigger=trigger,
            state=state,
        )

    enter(welcome, ada, 0, through_event, state=EnrollmentState.FINISHED)
    enter(welcome, ada, 1, through_event)  # again: still one contact
    enter(welcome, bob, 0.5, on_subscribe)
    enter(welcome, cy, -1, on_subscribe)  # before signing up here: not counted
    enter(birthday, cy, 2)
    enter(welcome, dee, 1, through_event)  # never signed up here
    enter(untouched, dee, 1)
    found = conversations_entered(point)
    assert [(e.name, e.contacts, e.through_event) for e in found] == [
        ("Welcome", 2, 1),
        ("Birthday", 1, 0),
    ]
    shown = page(admin_client, change_url(point))
    rows = Page(shown).tables["report-conversations"]
    assert rows[0] == ["Conversation", "Contacts", "Through “Signup: Footer”"]
    assert rows[1:] == [["Welcome", "2", "1"], ["Birthday", "1", "0"]]
    assert (
        f'<a href="{reverse("admin:conductor_conversation_change", args=[welcome.pk])}">Welcome</a>'
        in shown
    )


def test_the_report_costs_a_few_queries_however_many_signups(
    admin_client, shop, django_assert_max_num_queries
):
    point = make_point(shop)
    conversation = ConversationFactory.create(list=shop)
    for _ in range(12):
        contact = ContactFactory.create(list=shop)
        Signup.objects.create(point=point, contact=contact, outcome="subscribed")
        EnrollmentFactory.create(thread=main_thread(conversation), contact=contact)
    with django_assert_max_num_queries(40) as counted:
        page(admin_client, change_url(point))
    before = len(counted.captured_queries)
    for _ in range(12):
        contact = ContactFactory.create(list=shop)
        Signup.objects.create(point=point, contact=contact, outcome="subscribed")
        EnrollmentFactory.create(thread=main_thread(conversation), contact=contact)
    with django_assert_max_num_queries(before) as counted:
        page(admin_client, change_url(point))


def test_a_point_with_no_signups_says_how_to_start_a_conversation_from_it(admin_client, shop):
    shown = html.unescape(page(admin_client, change_url(make_point(shop))))
    assert "No signups yet." in shown
    assert "give a conversation a trigger on the event “Signup: Footer”" in shown


# --- The list of points and the home page ---------------------------------------------------------


def test_the_list_of_points_counts_people_today_and_this_week_in_each_lists_time_zone(admin_client):
    shop = ListFactory.create(name="Shop", time_zone="America/New_York")
    club = ListFactory.create(name="Club", time_zone="Pacific/Auckland")
    footer, popup = make_point(shop, name="Footer"), make_point(club, name="Pop-up")
    for point in (footer, popup):
        today = timezone.localdate(timezone=point.list.zone)
        zone = point.list.time_zone
        for created_at, outcome in (
            (at(today, 0, 0, zone), "subscribed"),
            (at(today, 0, 0, zone), "already"),
            (at(today, 0, 0, zone), "honeypot"),  # a bot: not counted
            (at(today, 0, 0, zone) - datetime.timedelta(minutes=1), "subscribed"),  # yesterday
            (at(today - datetime.timedelta(days=6), 0, 0, zone), "pending"),
            (at(today - datetime.timedelta(days=7), 23, 59, zone), "subscribed"),  # 8 days ago
        ):
            Signup.objects.create(point=point, outcome=outcome, created_at=created_at)
    rows = Page(page(admin_client, CHANGELIST)).tables["result_list"]
    assert rows[0][1:] == [
        "Name",
        "List",
        "Event",
        "Taking signups",
        "Signups today",
        "Last 7 days",
        "Page",
    ]
    assert [row[1:7] for row in rows[1:]] == [
        ["Pop-up", "Club", "Signup: Pop-up", "True", "2", "4"],
        ["Footer", "Shop", "Signup: Footer", "True", "2", "4"],
    ]
    shown = page(admin_client, CHANGELIST)
    assert f'href="{snippets.hosted_url(footer)}" target="_blank"' in shown
    assert signups_today().people == 4 and signups_today().bots == 2


def test_points_are_found_by_name_and_filtered_by_list(admin_client, shop, club):
    make_point(shop, name="Footer")
    make_point(shop, name="Checkout")
    make_point(club, name="Club footer")
    names = lambda url: [row[1] for row in Page(page(admin_client, url)).tables["result_list"][1:]]  # noqa: E731
    assert names(f"{CHANGELIST}?q=footer") == ["Club footer", "Footer"]
    assert names(f"{CHANGELIST}?list__id__exact={shop.pk}") == ["Checkout", "Footer"]


def test_the_home_page_lists_the_points_with_todays_signups(admin_client, shop):
    point = make_point(shop)
    for outcome in ("subscribed", "pending", "honeypot"):
        Signup.objects.create(point=point, outcome=outcome)
    shown = page(admin_client, "/admin/")
    audience = shown[shown.index('id="audience"') : shown.index('id="automation"')]
    assert f'<a href="{CHANGELIST}">Subscription points</a>' in audience
    assert "2 signups today · 1 bot refused" in audience
    marketer = page(staff("contacts.view_contact"), "/admin/")
    assert "Subscription points" not in marketer


# --- Permissions ---------------------------------------------------------------------------------


def test_staff_without_view_permission_are_refused_every_page(shop):
    point = make_point(shop)
    client = staff("contacts.view_contact")
    for url in (CHANGELIST, ADD, change_url(point), change_url(point).replace("change", "delete")):
        assert client.get(url).status_code == 403, url
    assert client.post(ADD, form_data(SubscriptionPoint(list=shop, name="X"))).status_code == 403
    assert SubscriptionPoint.objects.count() == 1


def test_view_permission_shows_the_page_snippets_and_report_but_changes_nothing(shop):
    point = make_point(shop)
    client = staff("signups.view_subscriptionpoint")
    shown = page(client, change_url(point))
    assert 'id="put-it-on-your-site"' in shown and 'id="point-report"' in shown
    assert 'name="_save"' not in shown
    response = client.post(change_url(point), with_fields(point, [], name="Renamed"))
    assert response.status_code == 403
    point.refresh_from_db()
    assert point.name == "Footer"
    assert client.get(ADD).status_code == 403


def test_change_permission_saves_but_adding_and_deleting_need_their_own(shop):
    point = make_point(shop)
    client = staff("signups.view_subscriptionpoint", "signups.change_subscriptionpoint")
    response = client.post(change_url(point), with_fields(point, [], name="Renamed"))
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.name == "Renamed"
    assert client.get(ADD).status_code == 403
    delete = reverse("admin:signups_subscriptionpoint_delete", args=[point.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [point.pk], "post": "yes"}
    )
    assert response.status_code == 403
    assert SubscriptionPoint.objects.filter(pk=point.pk).exists()


def test_the_points_permissions_cover_the_fields_it_asks(shop):
    """No separate permission on the fields a point asks: who may change the
    point chooses them, who may only view it sees them."""
    point = make_point(shop)
    PointField.objects.create(point=point, field=shop.profile_fields.get(name="First Name"))
    vip = shop.profile_fields.get(name="VIP")
    marketer = staff(*ALL)
    shown = page(marketer, change_url(point))
    assert 'name="fields-0-field"' in shown and 'name="fields-TOTAL_FORMS"' in shown

    response = marketer.post(change_url(point), with_fields(point, [(vip, True, 0)]))

    assert response.status_code == 302, Page(response.content.decode()).errors
    assert [(f.field.name, f.required) for f in point.fields.all()] == [("VIP", True)]
    viewer = page(staff("signups.view_subscriptionpoint"), change_url(point))
    assert "What it asks" in viewer and "VIP" in viewer
    assert 'name="fields-0-field"' not in viewer


def test_adding_without_change_permission_goes_back_to_the_list(shop):
    client = staff("signups.view_subscriptionpoint", "signups.add_subscriptionpoint")
    response = client.post(ADD, form_data(SubscriptionPoint(list=shop, name="Footer")))
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST


def test_deleting_a_point_counts_its_signups_and_keeps_the_contacts(shop):
    point = make_point(shop)
    contact = ContactFactory.create(list=shop)
    Signup.objects.create(point=point, contact=contact, outcome="subscribed")
    client = staff(*ALL)
    delete = reverse("admin:signups_subscriptionpoint_delete", args=[point.pk])
    assert "1 signups (its report's history; the contacts stay)" in html.unescape(
        page(client, delete)
    )
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not SubscriptionPoint.objects.exists() and not Signup.objects.exists()
    contact.refresh_from_db()


def test_signups_and_rate_windows_have_no_admin_pages(admin_client):
    from django.contrib import admin

    from signups.models import RateWindow

    assert Signup not in admin.site._registry
    assert RateWindow not in admin.site._registry


# --- In a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_copies_a_snippet_and_previews_the_form_and_the_real_pop_up(
    live_server, browser_page
):
    from django.contrib.auth.models import Permission, User

    from tests.browser import log_in

    user = User.objects.create_user("marketer", password="s3cret-pass", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_subscriptionpoint"))
    shop = ListFactory.create(name="Shop")
    first = ProfileFieldFactory.create(list=shop, group__list=shop, name="First Name")
    point = make_point(shop, name="Pop-up", heading="Get 10% off", is_active=False)
    PointField.objects.create(point=point, field=first, required=True)
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    log_in(page, live_server.url, "marketer", "s3cret-pass")
    page.goto(f"{live_server.url}{change_url(point)}")

    page.click("#snippet-popup button.sp-copy")
    page.wait_for_selector("#snippet-popup .sp-copied:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == snippets.popup_tag(point)

    # The form in its frame: it can be typed in, and its button sends nothing.
    frame = page.frame_locator("iframe.sp-frame")
    assert frame.locator("h1").inner_text() == "Get 10% off"
    frame.locator("input[type=email]").fill("ada@example.com")
    frame.locator("button[type=submit]").click()

    # The real pop-up, at once although the point is closed and its delay is 5 s.
    page.click("#show-popup")
    dialog = page.locator("dialog[open]")
    dialog.wait_for(timeout=5000)
    assert "Get 10% off" in dialog.inner_text()
    dialog.locator("input[type=email]").fill("ada@example.com")
    dialog.locator(f"input[name=field_{first.pk}]").fill("Ada")
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open] :text('nothing was sent')")
    remembered = page.evaluate(f"window.localStorage.getItem('retailmail-signup-{point.key}')")
    assert remembered is None
    assert f"retailmail-signup-{point.key}" not in page.evaluate("document.cookie")
    assert [url for url in posts if "/s/" in url] == []
    assert not Signup.objects.exists()
    assert [p for p in problems if "Content Security Policy" in p] == []
