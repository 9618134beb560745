"""The activity hook: receivers see every batch, inside the same transaction,
and then what they derived from it, as a batch of its own."""

import datetime
import re
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.utils import timezone

from contacts.hooks import activities_recorded, record_activities
from contacts.models import Activity, ActivityKind, Contact
from contacts.services import fire_event, subscribe_contact, subscribe_contacts
from contacts.services.common import activity_for
from emails.conversions import record_conversions
from integrations.segment.outbox import write_segment_messages
from tests.factories import ContactFactory, EventFactory, ListFactory, MessageFactory
from tests.segment_server import allow, make_integration, outbox, speed_up

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    batches = []

    def receiver(sender, activities, **kwargs):
        # Inside the writing transaction, with ids: a receiver can join on them.
        assert transaction.get_connection().in_atomic_block
        # A QuerySet of rows already inserted: usable in set-based SQL.
        assert (
            Contact.objects.filter(pk__in=activities.values("contact")).count()
            == activities.count()
        )
        batches.append(list(activities.order_by("id")))

    activities_recorded.connect(receiver)
    yield batches
    activities_recorded.disconnect(receiver)


def test_receivers_get_the_activities_of_a_batch_at_once(received):
    email_list = ListFactory()
    subscribe_contacts(
        email_list=email_list, emails=[f"p{i}@example.com" for i in range(10)], method="API"
    )
    assert len(received) == 1
    assert [a.kind for a in received[0]] == [ActivityKind.SUBSCRIBED] * 10
    assert {a.contact_id for a in received[0]} == set(Contact.objects.values_list("pk", flat=True))


def test_a_receiver_that_fails_rolls_the_change_back(received):
    def broken(sender, activities, **kwargs):
        raise RuntimeError("segment outbox unavailable")

    activities_recorded.connect(broken)
    try:
        with pytest.raises(RuntimeError):
            subscribe_contact(email_list=ListFactory(), email="a@example.com", method="API")
    finally:
        activities_recorded.disconnect(broken)
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()


def test_nothing_is_sent_when_nothing_happened(received):
    email_list = ListFactory()
    subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    assert len(received) == 1


# --- Two phases: what receivers derive ------------------------------------------------


@contextmanager
def connected(*receivers):
    """The receivers connected after the project's own, in this order."""
    for n, receiver in enumerate(receivers):
        activities_recorded.connect(receiver, weak=False, dispatch_uid=f"test.receiver.{n}")
    try:
        yield
    finally:
        for n in range(len(receivers)):
            activities_recorded.disconnect(dispatch_uid=f"test.receiver.{n}")


def welcome(sender, activities, **kwargs):
    """Derives a ``Welcomed`` event from each first subscription."""
    now = timezone.now()
    return [
        activity_for(a.contact, ActivityKind.EVENT_FIRED, now, event_name="Welcomed")
        for a in activities.filter(kind=ActivityKind.SUBSCRIBED).select_related("contact")
    ]


@pytest.mark.parametrize("deriver_first", [True, False], ids=["deriver-first", "deriver-last"])
def test_a_receiver_sees_what_another_derives_whatever_their_order(deriver_first):
    seen = []

    def observe(sender, activities, **kwargs):
        seen.append(list(activities.values_list("kind", "details__event_name")))

    with connected(*([welcome, observe] if deriver_first else [observe, welcome])):
        subscribe_contact(email_list=ListFactory(), email="a@example.com", method="API")
    # The batch first, to every receiver; then, as a batch of its own, what it caused.
    assert seen == [[(ActivityKind.SUBSCRIBED, None)], [(ActivityKind.EVENT_FIRED, "Welcomed")]]
    subscribed, welcomed = Activity.objects.order_by("id")
    assert (subscribed.kind, welcomed.kind) == (ActivityKind.SUBSCRIBED, ActivityKind.EVENT_FIRED)
    assert welcomed.contact_id == subscribed.contact_id


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_on_a_derived_batch_rolls_back_the_whole_change():
    def refuse_welcomes(sender, activities, **kwargs):
        if activities.filter(kind=ActivityKind.EVENT_FIRED).exists():
            raise RuntimeError("no welcome today")

    email_list = ListFactory()
    with connected(welcome, refuse_welcomes), pytest.raises(RuntimeError):
        subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    # Committed nothing: not the contact, its subscription, nor the derived event.
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()


def test_a_receiver_that_returns_something_else_than_new_activities_is_refused():
    email_list = ListFactory()
    subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    saved = Activity.objects.get()

    def returns_saved(sender, activities, **kwargs):
        return [saved]

    with connected(returns_saved), pytest.raises(TypeError, match="unsaved, or None"):
        subscribe_contact(email_list=email_list, email="b@example.com", method="API")
    assert list(Activity.objects.all()) == [saved]


ENDPOINT = "http://127.0.0.1:9"  # never contacted here: nothing is delivered


@contextmanager
def conversions_and_segment(*, segment_first: bool):
    """The conversion and Segment outbox receivers in the app order, or the other."""
    pair: list[tuple[str, Callable[..., object]]] = [
        ("emails.record_conversions", record_conversions),
        ("integrations.segment.write_messages", write_segment_messages),
    ]
    for uid, _ in pair:
        activities_recorded.disconnect(dispatch_uid=uid)
    try:
        for uid, receiver in reversed(pair) if segment_first else pair:
            activities_recorded.connect(receiver, dispatch_uid=uid)
        yield
    finally:
        for uid, receiver in pair:  # back after the others, in the app order
            activities_recorded.disconnect(dispatch_uid=uid)
            activities_recorded.connect(receiver, dispatch_uid=uid)


@pytest.mark.parametrize("segment_first", [False, True], ids=["app-order", "segment-first"])
def test_segment_tracks_a_conversion_whatever_the_order_of_the_apps(shop, settings, segment_first):
    speed_up(settings)
    allow(settings, ENDPOINT)
    make_integration(ENDPOINT, shop)
    contact = ContactFactory(list=shop, email="ada@example.com")
    message = MessageFactory(list=shop)
    clicked = timezone.now() - datetime.timedelta(hours=1)
    record_activities(
        [activity_for(contact, ActivityKind.EMAIL_CLICKED, clicked, message_id=message.pk)]
    )
    purchase = EventFactory(list=shop, name="Purchase")
    with conversions_and_segment(segment_first=segment_first):
        fire_event(event=purchase, contact=contact, data={"orderTotal": "20"})
    assert [m["event"] for m in outbox()] == ["Email Link Clicked", "Email Converted"]
    assert outbox()[-1]["properties"]["order_total"] == 20.0
    assert contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's plan (SQLite has no planner choice)"
)
def test_the_activities_of_one_api_write_are_read_by_primary_key_not_by_a_table_scan():
    """Every receiver filters by the batch's activities: for the one or two
    activities of an API call, the planner must take them by id, not read the
    whole activity table (as it did when the ids came as one JSON parameter,
    which it guesses at a hundred rows)."""
    email_list = ListFactory()
    subscribe_contacts(
        email_list=email_list, emails=[f"old{i}@example.com" for i in range(5000)], method="API"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_activity")
    plans = []

    def explain(sender, activities, **kwargs):
        plans.append(activities.filter(kind=ActivityKind.SUBSCRIBED).explain())

    activities_recorded.connect(explain)
    try:
        subscribe_contact(email_list=email_list, email="new@example.com", method="API")
    finally:
        activities_recorded.disconnect(explain)
    # The table (or, partitioned by month, the partition) that holds the 5,001 rows:
    # the other partitions hold none, and scanning those costs nothing.
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM contacts_activity")
        [(holder,)] = cursor.fetchall()
    assert plans
    for plan in plans:
        assert f"Seq Scan on {holder} " not in plan, plan
        assert "Index" in plan, plan
        # Partitioned by month, only the month of the batch's activities is read.
        read = set(re.findall(r" on (contacts_activity\w*)", plan))
        assert read == {holder}, plan
