"""The conversation report a marketer looks at: the funnel of the main
thread, the emails per day in the list's time zone, and each message's
rates beside its counts, drawn as SVG with every figure written in it."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conductor.models import Conversation, EnrollmentState, Step, StepKind, StepOutcome
from conductor.report_charts import daily_svg, funnel_svg, report_context
from conductor.report_rates import message_row, rates_legend
from conductor.reports import Summary, daily_figures, funnel
from conductor.versions import publish, published_version
from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Contact
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    EnrollmentFactory,
    ListFactory,
    MessageFactory,
    StepRunFactory,
    add_step,
    main_thread,
)
from tests.staff import staff
from tests.tracking_helpers import engagement_story

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def page_of(client, conversation: Conversation) -> str:
    response = client.get(f"/admin/conductor/conversation/{conversation.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def svg_texts(svg: str) -> list[str]:
    """The text a reader sees in an SVG (it must parse as XML)."""
    root = ET.fromstring(svg)
    return ["".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")]


# --- The funnel -----------------------------------------------------------------------------


def welcome_series(email_list) -> tuple[Conversation, list[Step]]:
    """Send "Welcome" → wait → clicked it? jump to the end → send "Reminder" → end."""
    conversation = ConversationFactory.create(list=email_list, name="Welcome series")
    thread = main_thread(conversation)
    welcome = MessageFactory.create(list=email_list, name="Welcome")
    reminder = MessageFactory.create(list=email_list, name="Reminder")
    send = add_step(thread, StepKind.MESSAGE, "Send welcome", message=welcome.pk, variants=[])
    wait = add_step(thread, StepKind.WAIT, "Wait two days", kind="duration", days=2)
    go_to = add_step(thread, StepKind.GO_TO, "Clicked? Done", target=None, criteria=None)
    remind = add_step(thread, StepKind.MESSAGE, "Remind", message=reminder.pk, variants=[])
    end = add_step(thread, StepKind.TERMINATE, "Done")
    go_to.settings = {
        "target": str(end.key),
        "criteria": {"filters": [{"engagement": "Clicked", "message": welcome.pk}]},
    }
    go_to.save()
    publish(conversation)
    return conversation, [send, wait, go_to, remind, end]


def passes(step: Step, *later: Step, state=EnrollmentState.FINISHED, last=StepOutcome.PASSED):
    """A new contact that passed ``step`` and then ``later``, the last with ``last``."""
    steps = [step, *later]
    enrollment = EnrollmentFactory.create(step=steps[-1], state=state, visit=len(steps))
    for visit, passed in enumerate(steps, start=1):
        outcome = last if visit == len(steps) else StepOutcome.PASSED
        StepRunFactory.create(step=passed, enrollment=enrollment, visit=visit, outcome=outcome)
    return enrollment


def test_the_funnel_counts_the_contacts_who_passed_each_step_of_the_main_thread(shop):
    conversation, (send, wait, go_to, remind, end) = welcome_series(shop)
    # Clicked: jumped from the Go To to the end, past the reminder.
    passes(send, wait, go_to, end, last=StepOutcome.TERMINATED)
    passes(send, wait, go_to, remind, end, last=StepOutcome.TERMINATED)
    passes(send, state=EnrollmentState.ACTIVE)  # still waiting two days
    passes(send, last=StepOutcome.SKIPPED)  # unsubscribed: its email was skipped
    EnrollmentFactory.create(step=send, state=EnrollmentState.HELD)  # held before sending

    path = funnel(conversation)

    assert path.entered == 5
    assert [(s.step.name, s.passed) for s in path.steps] == [
        ("Send welcome", 3),
        ("Wait two days", 2),
        ("Clicked? Done", 2),
        ("Remind", 1),
        ("Done", 2),
    ]
    assert path.steps[-1].reached_from == ["step 3"]
    texts = svg_texts(funnel_svg(path, ident="f"))
    assert texts[:4] == ["", "Entered", "5", "100%"]
    assert texts[4:8] == ["1", "Send welcome · Message", "3", "60%"]
    jumped = ["5", "Done · Terminate", "2", "40%", "Contacts also jump here from step 3"]
    assert texts[20:25] == jumped


def test_a_contact_sent_back_by_a_go_to_counts_once_per_step(shop):
    conversation = ConversationFactory.create(list=shop)
    thread = main_thread(conversation)
    message = MessageFactory.create(list=shop)
    send = add_step(thread, StepKind.MESSAGE, message=message.pk, variants=[])
    wait = add_step(thread, StepKind.WAIT, kind="duration", days=1)
    opened = {"filters": [{"engagement": "Opened", "message": message.pk}]}
    go_to = add_step(thread, StepKind.GO_TO, target=str(wait.key), criteria=opened)
    end = add_step(thread, StepKind.TERMINATE)
    publish(conversation)
    passes(send, wait, go_to, wait, go_to, wait, go_to, end, last=StepOutcome.TERMINATED)

    path = funnel(conversation)

    assert path.entered == 1
    assert [s.passed for s in path.steps] == [1, 1, 1, 1]
    assert path.steps[1].reached_from == ["step 3"]


def test_a_step_of_an_earlier_version_counts_as_the_same_step(shop):
    conversation, (send, *_rest) = welcome_series(shop)
    passes(send)
    publish(conversation)  # version 2: the same steps, new rows
    latest = published_version(conversation)
    assert latest is not None and latest.number == 2
    send_v2 = Step.objects.get(version=latest, key=send.key)
    passes(send_v2)

    path = funnel(conversation)

    assert path.version_number == 2
    assert (path.entered, path.steps[0].step.pk, path.steps[0].passed) == (2, send_v2.pk, 2)


def test_an_unpublished_conversation_has_no_funnel_and_no_shares_divide_by_zero(shop):
    assert funnel(ConversationFactory.create(list=shop)).steps == []
    conversation, _ = welcome_series(shop)
    path = funnel(conversation)
    assert path.entered == 0 and all(s.passed == 0 for s in path.steps)
    texts = svg_texts(funnel_svg(path, ident="f"))
    assert texts[:4] == ["", "Entered", "0", "—"]
    assert texts[4:8] == ["1", "Send welcome · Message", "0", "—"]


# --- Day by day -----------------------------------------------------------------------------


def activity(contact: Contact, conversation: Conversation, kind: str, at, **details):
    return Activity(
        contact=contact,
        list_id=contact.list_id,
        email=contact.email,
        kind=kind,
        occurred_at=at,
        details={"conversation_id": conversation.pk, "message_id": 1, **details},
    )


def utc(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def test_days_are_the_lists_days_across_midnight_in_new_york():
    """New York is five hours behind UTC in January: 04:30 UTC on the 15th
    is 23:30 on the 14th there."""
    new_york = ListFactory.create(time_zone="America/New_York")
    conversation = ConversationFactory.create(list=new_york)
    ada, bob = ContactFactory.create(list=new_york), ContactFactory.create(list=new_york)
    record_activities(
        [
            activity(ada, conversation, ActivityKind.EMAIL_SENT, utc(13, 4, 59)),  # 12th: before
            activity(ada, conversation, ActivityKind.EMAIL_SENT, utc(13, 5, 0)),  # 13th, 00:00
            activity(ada, conversation, ActivityKind.EMAIL_SENT, utc(15, 4, 30)),  # 14th, 23:30
            activity(bob, conversation, ActivityKind.EMAIL_SENT, utc(15, 5, 30)),  # 15th, 00:30
            activity(ada, conversation, ActivityKind.EMAIL_OPENED, utc(15, 4, 40)),  # 14th
            activity(ada, conversation, ActivityKind.EMAIL_OPENED, utc(15, 5, 40)),  # 15th
            activity(ada, conversation, ActivityKind.EMAIL_OPENED, utc(15, 6, 0)),  # 15th again
            activity(bob, conversation, ActivityKind.EMAIL_OPENED, utc(15, 7, 0)),  # 15th
            activity(bob, conversation, ActivityKind.EMAIL_CLICKED, utc(15, 7, 1)),
            activity(bob, conversation, ActivityKind.EMAIL_CONVERTED, utc(15, 8), order_total=20),
            activity(bob, conversation, ActivityKind.EMAIL_CONVERTED, utc(15, 9), order_total=5.5),
            activity(bob, conversation, ActivityKind.EMAIL_SENT, utc(16, 5, 0)),  # 16th: after
            # Another conversation's email is not this one's.
            activity(
                bob, ConversationFactory.create(list=new_york), ActivityKind.EMAIL_SENT, utc(15, 6)
            ),
        ]
    )

    daily = daily_figures(conversation, days=3, today=datetime.date(2026, 1, 15))

    days = [(day.day, f.sent, f.opened, f.clicked, f.converted, f.revenue) for day, f in daily.days]
    assert days == [
        (13, 1, 0, 0, 0, 0.0),
        (14, 1, 1, 0, 0, 0.0),
        (15, 1, 2, 1, 2, 25.5),  # Ada opened twice that day: one contact
    ]
    total = daily.total
    # Ada opened on two days: once in the total.
    assert (total.sent, total.opened, total.clicked, total.converted, total.revenue) == (
        3,
        2,
        1,
        2,
        25.5,
    )
    assert daily.zone == "America/New_York"


def test_every_day_is_present_and_a_day_with_nothing_is_zero(shop):
    conversation = ConversationFactory.create(list=shop)
    daily = daily_figures(conversation)
    today = timezone.localdate(timezone=shop.zone)
    assert [day for day, _ in daily.days] == [
        today - datetime.timedelta(days=n) for n in range(29, -1, -1)
    ]
    assert all(figures.sent == figures.revenue == 0 for _, figures in daily.days)
    texts = svg_texts(daily_svg(daily, ident="d"))
    # Every day's date is written under its column; no day has a bar or a
    # figure; each band's total is zero.
    assert {str(day.day) for day, _ in daily.days} <= set(texts)
    assert texts.count("0") == 4 and texts.count("0.00") == 1


def test_the_daily_chart_writes_each_days_figure_and_the_totals():
    new_york = ListFactory.create(time_zone="America/New_York")
    conversation = ConversationFactory.create(list=new_york)
    contacts = ContactFactory.create_batch(12, list=new_york)
    sent = [activity(c, conversation, ActivityKind.EMAIL_SENT, utc(14, 15)) for c in contacts]
    bought = activity(
        contacts[0], conversation, ActivityKind.EMAIL_CONVERTED, utc(15, 15), order_total=1234.5
    )
    record_activities([*sent, bought])

    daily = daily_figures(conversation, days=7, today=datetime.date(2026, 1, 16))
    svg = daily_svg(daily, ident="d")
    texts = svg_texts(svg)

    assert "12" in texts  # the 14th's sends, above its bar
    assert "1.2k" in texts  # the 15th's revenue, short enough for its column
    assert "1,234.50" in texts  # the period's revenue, in full
    assert "Today" in texts and "Jan" in texts
    assert "Wed 14 Jan: 12 emails sent" in svg  # the bar's title
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg)
    assert desc is not None, svg
    assert "Days in America/New_York" in desc.group(1) and "12 emails sent" in desc.group(1)


# --- Rates ----------------------------------------------------------------------------------


def test_rates_are_shares_of_delivered_emails_and_bounces_of_sent_ones():
    summary = Summary(sent=10, bounced=2, opened=4, clicked=2, unsubscribed=1, converted=1)
    row = message_row("Welcome", None, summary)
    assert row.delivered == 8
    assert [(c.figure, c.count, c.rate) for c in row.rates] == [
        ("opened", 4, "50.0%"),
        ("clicked", 2, "25.0%"),
        ("bounced", 2, "20.0%"),
        ("unsubscribed", 1, "12.5%"),
        ("converted", 1, "12.5%"),
    ]
    assert row.rates[0].title == "4 of 8 delivered"
    assert rates_legend() == (
        "Rates: opened, clicked, unsubscribed and converted are shares of delivered emails; "
        "bounced is a share of sent emails."
    )


def test_a_message_with_nothing_delivered_has_no_rate_rather_than_an_error():
    row = message_row("Bounced everywhere", None, Summary(sent=3, bounced=3))
    assert [c.rate for c in row.rates] == ["—", "—", "100.0%", "—", "—"]
    assert row.rates[0].title == "No email delivered yet: no rate to give."
    assert [c.rate for c in message_row("Nothing", None, Summary()).rates] == ["—"] * 5


# --- The page -------------------------------------------------------------------------------


@pytest.fixture
def story(shop, smtp_server, client, settings):
    return engagement_story(shop, smtp_server, client, settings)


def test_the_page_shows_the_story_as_funnel_days_and_rates(story, admin_client):
    """Three emails sent through a real SMTP server: Ada opens, clicks and buys
    for 50; Bob bounces (and is unsubscribed); Cy views it in the browser."""
    message, conversation = story
    html = page_of(admin_client, conversation)

    assert 'id="conversation-report"' in html and "conductor/report.css" in html
    # The funnel: three entered, three passed the Message step.
    assert "Contacts who passed each step" in html
    # Today's column of the per-day figures, newest first.
    today = timezone.localdate(timezone=conversation.list.zone)
    day = f"{today:%a} {today.day} {today:%b}"
    assert f"<tr><th>{day}</th><td>3</td><td>1</td><td>2</td><td>1</td><td>50.00</td></tr>" in html
    # The message's counts beside its rates: 2 of 3 delivered.
    row = re.search(rf'<a href="[^"]+/{message.pk}/change/">Sale</a></th>(.*?)</tr>', html, re.S)
    assert row is not None, html
    cells = re.findall(r'class="(\w+) rc-number"[^>]*>(.*?)</td>', row.group(1), re.S)
    shown = {name: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for name, text in cells}
    assert shown == {
        "sent": "3",
        "delivered": "2",
        "opened": "1 50.0%",
        "clicked": "2 100.0%",
        "bounced": "1 33.3%",
        "unsubscribed": "1 50.0%",
        "converted": "1 50.0%",
        "revenue": "50.00",
        "average_order_value": "50.00",
    }
    assert "<th>All messages</th>" in html
    assert "bounced is a share of sent emails" in html


def test_the_page_renders_for_a_conversation_with_no_history(shop, admin_client):
    unpublished = ConversationFactory.create(list=shop)
    html = page_of(admin_client, unpublished)
    assert "Not published yet" in html
    assert "No email sent yet." in html
    assert "Emails per day" in html and "0.00" in html

    published, _ = welcome_series(shop)
    html = page_of(admin_client, published)
    assert "Contacts who passed each step" in html and "Send welcome" in html
    assert "No email sent yet." in html


def test_the_report_is_refused_without_the_permission_to_view_conversations(shop):
    conversation, _ = welcome_series(shop)
    url = f"/admin/conductor/conversation/{conversation.pk}/change/"
    assert staff("emails.view_message").get(url).status_code == 403
    html = page_of(staff("conductor.view_conversation"), conversation)
    assert "Contacts who passed each step" in html


def test_the_report_context_comes_from_one_function(shop):
    conversation, _ = welcome_series(shop)
    report = report_context(conversation)
    assert report["funnel"].version_number == 1
    assert len(report["days"]) == 30 and report["messages"] == []


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_each_daily_query_reads_an_index(story):
        """The daily series read the list's activity of one kind and one
        period through ``(list, kind, occurred_at)`` (the "sent" activity is
        in no other index), or the conversation's own partial index."""
        _, conversation = story
        with CaptureQueriesContext(connection) as queries:
            daily_figures(conversation)
        reads = [q["sql"] for q in queries if '"contacts_activity"' in q["sql"]]
        assert len(reads) == 5  # four series and the totals
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
            plans = []
            for sql in reads:
                cursor.execute(f"EXPLAIN {sql}")
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        assert "activity_list_kind_time" in plans[0], plans[0]  # sent
        for plan in plans:
            assert "Seq Scan on contacts_activity" not in plan, plan
            assert "activity_list_kind_time" in plan or "activity_conversation" in plan, plan
