"""The admin's home page (/admin/): figures that link to the lists they
count, the pages in sections in the order of the work, each shown only to
who may view it, and the task queue's and OAuth toolkit's pages kept to
superusers."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from oauth2_provider.models import AccessToken

from conductor.models import EnrollmentState
from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, OptInRequest, SubscriptionState
from integrations.models import MessageStatus, SegmentMessage
from tests.api_helpers import api_caller
from tests.factories import (
    ContactFactory,
    EnrollmentFactory,
    ListFactory,
    SegmentIntegrationFactory,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

HOME = "/admin/"
INTERNALS = [Schedule, Success, Failure, OrmQ, AccessToken]


@pytest.fixture(autouse=True)
def fresh_figures() -> Iterator[None]:
    """The audience's figures are kept for 30 s: each test counts afresh."""
    cache.clear()
    yield
    cache.clear()


# --- Reading the page as a person sees it ------------------------------------------


@dataclass
class Shown:
    """The home page as shown: each section's pages, and each figure."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    #: The figure's label, to its number, note lines and link.
    figures: dict[str, tuple[int, list[str], str]] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)


@dataclass
class FigureRead:
    url: str
    alert: bool
    value: str = ""
    label: str = ""
    notes: list[str] = field(default_factory=list)


class HomeReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shown = Shown()
        self.section: str | None = None
        self.in_caption = self.in_row_header = False
        self.figure: FigureRead | None = None
        self.span: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and "home-section" in classes:
            self.section = ""
        elif tag == "caption" and self.section is not None:
            self.in_caption = True
        elif tag == "span" and self.in_caption:
            self.in_caption = False  # the description follows the name
        elif tag == "th" and dict(attrs).get("scope") == "row" and self.section:
            self.in_row_header = True
            self.shown.sections[self.section].append("")
        elif tag == "span" and self.in_row_header:
            self.in_row_header = False  # a note under the page's name
        elif tag == "a" and "home-figure" in classes:
            self.figure = FigureRead(url=dict(attrs)["href"] or "", alert="alert" in classes)
        elif tag == "span" and self.figure is not None:
            self.span = classes[0]

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self.section is not None:
            self.in_caption = False
            self.shown.sections[self.section] = []
        elif tag == "th":
            self.in_row_header = False
        elif tag == "table":
            self.section = None
        elif tag == "a" and self.figure is not None:
            figure, self.figure = self.figure, None
            value = int(figure.value.replace(",", ""))
            self.shown.figures[figure.label] = (value, figure.notes, figure.url)
            if figure.alert:
                self.shown.alerts.append(figure.label)
        elif tag == "span":
            self.span = None

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text:
            return
        if self.in_caption:
            self.section = (self.section or "") + text
        elif self.in_row_header and self.section:
            pages = self.shown.sections[self.section]
            pages[-1] = f"{pages[-1]} {text}".strip()
        elif self.figure is not None and self.span == "value":
            self.figure.value = text
        elif self.figure is not None and self.span == "label":
            self.figure.label = text
        elif self.figure is not None and self.span:
            self.figure.notes.append(text)


def home(client: Client) -> Shown:
    response = client.get(HOME)
    assert response.status_code == 200
    reader = HomeReader()
    reader.feed(response.content.decode())
    return reader.shown


def listed(client: Client, url: str) -> int:
    """How many rows the admin list at ``url`` says it has."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def superuser_client(client: Client, django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def all_permissions_of(*app_labels: str) -> list[str]:
    return [
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(content_type__app_label__in=app_labels)
    ]


# --- Sections ----------------------------------------------------------------------


def test_a_superuser_sees_every_page_in_sections_in_the_order_of_the_work(admin_client):
    shown = home(admin_client)
    assert list(shown.sections) == [
        "Audience",
        "Automation",
        "Broadcasts",
        "Emails",
        "Reports",
        "Integrations",
        "System",
    ]
    assert shown.sections["Audience"] == [
        "Lists",
        "Folders",
        "Contacts",
        "List imports",
        "Subscription points",
        "Activities",
        "Suppressions",
        "Bans",
    ]
    assert shown.sections["Automation"] == [
        "Conversations",
        "Messages",
        "Content blocks",
        "Content folders",
        "Coupon pools",
        "Enrollments",
        "Events",
        "Event groups",
    ]
    assert shown.sections["Emails"] == ["Deliveries", "Development mailbox"]
    assert shown.sections["Broadcasts"] == [
        "Broadcasts",
        "Split tests",
        "Saved messages",
        "Transactional messages",
        "Campaigns",
        "Saved audiences",
    ]
    assert shown.sections["Reports"] == ["Conversation reports", "Broadcast reports"]
    assert shown.sections["Integrations"] == ["Segment integrations", "API clients"]
    assert shown.sections["System"][:2] == ["Users", "Groups"]
    for internal in ("Scheduled tasks", "Queued tasks", "Failed tasks", "Access tokens"):
        assert internal in shown.sections["System"]
    page = admin_client.get(HOME).content.decode()
    system = page[page.index('id="system"') :]
    assert system.count("Only superusers see this.") == 5


def test_the_report_entry_leads_to_the_conversations_whose_pages_hold_the_reports(admin_client):
    page = admin_client.get(HOME).content.decode()
    reports = page[page.index('id="reports"') : page.index('id="integrations"')]
    assert f'href="{reverse("admin:conductor_conversation_changelist")}"' in reports
    assert "Open a conversation: its report is at the foot of its page." in reports


def test_a_marketer_sees_only_the_pages_and_figures_their_permissions_allow():
    marketer = staff(
        "contacts.view_contact",
        "contacts.add_contact",
        "conductor.view_enrollment",
        "emails.view_delivery",
    )
    shown = home(marketer)
    assert shown.sections == {
        "Audience": ["Contacts"],
        "Automation": ["Enrollments"],
        "Emails": ["Deliveries"],
    }
    assert list(shown.figures) == [
        "contacts subscribed",
        "contacts in conversations",
        "contacts held",
    ]
    page = marketer.get(HOME).content.decode()
    assert reverse("admin:contacts_contact_add") in page  # may add contacts
    assert reverse("admin:lists_list_changelist") not in page


def test_whoever_may_view_activities_and_segment_sees_those_figures():
    shown = home(staff("contacts.view_activity", "integrations.view_segmentintegration"))
    assert list(shown.figures) == [
        "emails sent today",
        "Segment backlog",
        "Segment dead letters",
    ]
    assert shown.sections == {"Audience": ["Activities"], "Integrations": ["Segment integrations"]}


def test_a_staff_account_without_permissions_is_told_so_and_sees_no_figures():
    page = staff().get(HOME).content.decode()
    assert "have permission to view or edit anything." in page  # Django's own words
    assert 'class="home-figure' not in page


def test_a_page_no_section_names_is_still_listed_under_other(admin_client):
    admin.site.register(OptInRequest)
    try:
        shown = home(admin_client)
    finally:
        admin.site.unregister(OptInRequest)
    assert list(shown.sections)[-1] == "Other"
    assert shown.sections["Other"] == ["Opt-in requests"]


def test_djangos_page_of_each_app_still_works(admin_client):
    page = admin_client.get("/admin/contacts/").content.decode()
    for name in ("Contacts", "Bans", "Suppressions"):
        assert f'href="/admin/contacts/{name.lower()[:-1]}/">{name}</a>' in page
    assert "Lists" not in page  # the lists app's own page holds its lists


def test_the_recent_actions_column_stays(admin_client):
    assert "Recent actions" in admin_client.get(HOME).content.decode()


# --- The task queue and OAuth: superusers only ----------------------------------------


def admin_pages(model: type[Model]) -> list[str]:
    opts = model._meta
    return [
        reverse(f"admin:{opts.app_label}_{opts.model_name}_{kind}")
        for kind in ("changelist", "add")
    ]


def test_staff_with_every_permission_of_the_internals_neither_see_nor_open_them():
    api_caller()  # an access token, whose page is tried too
    token = AccessToken.objects.get()
    client = staff(*all_permissions_of("django_q", "oauth2_provider"))
    shown = home(client)
    assert shown.sections == {}
    for model in INTERNALS:
        for url in admin_pages(model):
            refused = client.get(url)
            assert refused.status_code == 403, url
            assert "Only superusers may open" in refused.content.decode()
    change = reverse("admin:oauth2_provider_accesstoken_change", args=[token.pk])
    assert client.get(change).status_code == 403
    assert client.post(change.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert AccessToken.objects.filter(pk=token.pk).exists()
    for app_label in ("django_q", "oauth2_provider"):
        assert client.get(f"/admin/{app_label}/").status_code == 404


def test_superusers_see_and_open_the_internals(client, django_user_model):
    client = superuser_client(client, django_user_model)
    for model in INTERNALS:
        changelist = admin_pages(model)[0]
        assert client.get(changelist).status_code == 200, changelist
    assert client.get("/admin/django_q/").status_code == 200


# --- Figures -----------------------------------------------------------------------


def test_on_an_empty_database_every_figure_is_zero(admin_client):
    shown = home(admin_client)
    assert {label: value for label, (value, _, _) in shown.figures.items()} == {
        "contacts subscribed": 0,
        "emails sent today": 0,
        "contacts in conversations": 0,
        "contacts held": 0,
        "broadcasts sending now": 0,
        "broadcasts scheduled": 0,
        "Segment backlog": 0,
        "Segment dead letters": 0,
    }
    assert shown.alerts == []
    for _, _, url in shown.figures.values():
        assert admin_client.get(url).status_code == 200, url


def test_subscribed_contacts_are_counted_on_every_list_and_link_to_them(admin_client):
    shop, club = ListFactory(), ListFactory()
    ContactFactory.create_batch(2, list=shop)
    ContactFactory(list=club)
    ContactFactory(list=shop, state=SubscriptionState.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    ContactFactory(list=club, state=SubscriptionState.PENDING, subscribed_at=None)
    value, _, url = home(admin_client).figures["contacts subscribed"]
    assert value == 3
    assert listed(admin_client, url) == 3


def test_emails_sent_today_count_from_midnight_in_the_sites_time_zone(admin_client, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    zone = ZoneInfo("Pacific/Auckland")
    midnight = datetime.datetime.combine(timezone.now().astimezone(zone).date(), datetime.time())
    midnight = midnight.replace(tzinfo=zone)
    contact = ContactFactory()
    record_activities(
        [
            Activity(
                contact=contact,
                list=contact.list,
                email=contact.email,
                kind=ActivityKind.EMAIL_SENT,
                occurred_at=at,
            )
            for at in (
                midnight - datetime.timedelta(minutes=1),  # yesterday, there
                midnight + datetime.timedelta(minutes=1),
                midnight + datetime.timedelta(minutes=2),
            )
        ]
        + [
            Activity(
                contact=contact,
                list=contact.list,
                email=contact.email,
                kind=ActivityKind.EMAIL_OPENED,
                occurred_at=midnight + datetime.timedelta(minutes=3),
            )
        ]
    )
    value, notes, url = home(admin_client).figures["emails sent today"]
    assert value == 2
    assert "since midnight, Pacific/Auckland" in notes
    assert listed(admin_client, url) == 2


def test_contacts_waiting_in_conversations_and_held_ones_are_counted_apart(admin_client):
    enrollment = EnrollmentFactory()
    thread = enrollment.thread
    EnrollmentFactory(thread=thread)
    EnrollmentFactory(thread=thread, state=EnrollmentState.SENDING)
    EnrollmentFactory(thread=thread, state=EnrollmentState.FINISHED)
    EnrollmentFactory(thread=thread, state=EnrollmentState.HELD, held_reason="Pool empty")
    EnrollmentFactory(thread=thread, state=EnrollmentState.HELD, held_reason="Pool empty")
    shown = home(admin_client)

    waiting, _, url = shown.figures["contacts in conversations"]
    assert waiting == 3
    assert listed(admin_client, url) == 3

    held, notes, url = shown.figures["contacts held by an error"]
    assert held == 2
    assert notes == ["Read why, fix it, then resume them."]
    assert "contacts held by an error" in shown.alerts
    assert url == reverse("admin:conductor_enrollment_changelist") + "?state__exact=Held"
    assert listed(admin_client, url) == 2


def test_no_held_contact_is_nothing_to_act_on(admin_client):
    EnrollmentFactory()
    shown = home(admin_client)
    assert shown.figures["contacts held"][:2] == (0, ["none stopped by an error"])
    assert shown.alerts == []


def test_the_segment_backlog_and_dead_letters_are_counted(admin_client):
    integration = SegmentIntegrationFactory()
    for status in [MessageStatus.PENDING] * 3 + [MessageStatus.DEAD]:
        SegmentMessage.objects.create(
            integration=integration, shard=0, kind="identify", payload="{}", status=status
        )
    shown = home(admin_client)
    assert shown.figures["Segment backlog"][0] == 3
    assert shown.figures["Segment dead letters"][:2] == (
        1,
        ["Refused for good: see why and retry them."],
    )
    assert shown.alerts == ["Segment dead letters"]
    integrations = admin_client.get(shown.figures["Segment backlog"][2]).content.decode()
    assert integration.name in integrations


def test_the_audiences_figures_are_kept_briefly_and_say_when_they_were_counted(admin_client):
    enrollment = EnrollmentFactory()
    before = home(admin_client)
    EnrollmentFactory(thread=enrollment.thread)
    EnrollmentFactory(thread=enrollment.thread, state=EnrollmentState.HELD)
    after = home(admin_client)

    waiting, notes, _ = after.figures["contacts in conversations"]
    assert waiting == 1  # as counted a moment ago
    (counted,) = [note for note in notes if note.startswith("as of ")]
    assert re.fullmatch(r"as of \d\d:\d\d", counted)
    assert before.figures["contacts in conversations"] == after.figures["contacts in conversations"]
    # What calls for action is always counted afresh, and says no time.
    held, notes, _ = after.figures["contacts held by an error"]
    assert held == 1
    assert not any(note.startswith("as of ") for note in notes)


def test_the_side_menu_of_every_page_shows_the_same_sections():
    marketer = staff("contacts.view_contact", "conductor.view_enrollment")
    page = marketer.get(reverse("admin:contacts_contact_changelist")).content.decode()
    menu = page[page.index('id="nav-sidebar"') :]
    assert re.search(r'href="/admin/#audience" class="section"[^>]*>Audience</a>', menu)
    assert re.search(r'href="/admin/#automation" class="section"[^>]*>Automation</a>', menu)
    assert 'aria-current="page">Contacts</a>' in menu  # the page one is on
    assert 'href="/admin/conductor/"' not in menu  # no app names: "Conductor", "Contacts"
    assert "Conversation reports" not in menu
