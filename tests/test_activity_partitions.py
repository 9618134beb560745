"""The activity log partitioned by month on PostgreSQL (``contacts.partitions``,
migration ``contacts.0006``): rows land in their month, old months are dropped
whole by the retention setting while the reports and the contact's page keep
working, no row is ever lost to a missing month, two workers making the same
months make each once, and the migration converts a populated table."""

from __future__ import annotations

import datetime
import pydoc
import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from conductor.reports import message_summaries
from contacts.hooks import activities_recorded, record_activities
from contacts.models import Activity, ActivityKind, Contact
from contacts.partitions import (
    DEFAULT_PARTITION,
    default_partition_rows,
    drop_expired,
    ensure_partitions,
    month_start,
    next_month,
    partition_name,
)
from contacts.services import email_activity
from contacts.story import story_page
from core.bulk import create_rows
from ops.metrics import activity_default_partition_rows
from tests.factories import ContactFactory, ConversationFactory, MessageFactory

ON_POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="SQLite keeps a plain activity table: there is nothing to partition"
)

UTC = datetime.UTC
MIGRATED = ("contacts", "0005_never_subscribed")


def months_back(count: int) -> list[datetime.datetime]:
    """The first instants of the ``count`` UTC months up to this one, oldest first."""
    months = [month_start(timezone.now())]
    while len(months) < count:
        previous = month_start(months[0] - datetime.timedelta(days=1))
        months.insert(0, previous)
    return months


def partition_of(activity_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM contacts_activity WHERE id = %s", [activity_id]
        )
        return cursor.fetchone()[0]


def partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits"
            " WHERE inhparent = 'contacts_activity'::regclass"
        )
        return {name for (name,) in cursor.fetchall()}


def activity(
    contact: Contact,
    kind: str,
    at: datetime.datetime | None = None,
    details: dict | None = None,
) -> Activity:
    """An unsaved activity of ``contact`` (at ``at``; now when not given)."""
    return email_activity(
        contact_id=contact.pk,
        list_id=contact.list_id,
        email=contact.email,
        kind=kind,
        details=details or {},
        occurred_at=at,
    )


def engagement(contact: Contact, kind: str, message, conversation, at: datetime.datetime):
    details = {"message_id": message.pk, "conversation_id": conversation.pk}
    if kind == ActivityKind.EMAIL_CLICKED:
        details["link_url"] = "https://shop.example/sale"
    return activity(contact, kind, at, details)


@postgres_only
@pytest.mark.django_db
def test_three_months_land_in_their_partitions_and_retention_drops_only_the_oldest(
    shop, admin_client, settings
):
    oldest, middle, current = months_back(3)
    ensure_partitions(oldest)  # the two months before this one, as if made then
    conversation = ConversationFactory(list=shop, name="Welcome")
    message = MessageFactory(list=shop, name="Sale")
    ada, bob, cy, dan = (
        ContactFactory(list=shop, email=f"{n}@example.com") for n in ("ada", "bob", "cy", "dan")
    )
    opened, clicked = ActivityKind.EMAIL_OPENED, ActivityKind.EMAIL_CLICKED
    noon = datetime.timedelta(hours=12)
    saved = record_activities(
        [
            engagement(ada, opened, message, conversation, oldest + noon),
            engagement(ada, clicked, message, conversation, oldest + noon),
            engagement(dan, opened, message, conversation, oldest + noon),
            engagement(bob, opened, message, conversation, middle + noon),
            engagement(ada, opened, message, conversation, middle + noon),
            engagement(cy, opened, message, conversation, timezone.now()),
            engagement(cy, clicked, message, conversation, timezone.now()),
        ]
    )
    assert [partition_of(a.pk) for a in saved] == [
        partition_name(oldest),
        partition_name(oldest),
        partition_name(oldest),
        partition_name(middle),
        partition_name(middle),
        partition_name(current),
        partition_name(current),
    ]
    summary = message_summaries(conversation)[message.pk]
    assert (summary.opened, summary.clicked) == (4, 2)

    # A retention that reaches into the middle month: only the oldest has ended before it.
    now = timezone.now()
    settings.ACTIVITY_RETENTION_DAYS = (now - middle).days
    assert drop_expired(now) == [partition_name(oldest)]
    assert partition_name(oldest) not in partitions()
    assert {partition_name(middle), partition_name(current)} <= partitions()
    assert drop_expired(now) == []  # nothing more to drop

    assert list(Activity.objects.order_by("id").values_list("pk", flat=True)) == [
        a.pk for a in saved[3:]
    ]
    summary = message_summaries(conversation)[message.pk]
    # Dan's open and Ada's click are gone; Ada's open of the middle month stays.
    assert (summary.opened, summary.clicked) == (3, 1)
    page = admin_client.get(reverse("admin:contacts_contact_change", args=[ada.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("Opened “Sale”") == 1
    assert "Clicked https://shop.example/sale" not in html
    cy_page = admin_client.get(
        reverse("admin:contacts_contact_change", args=[cy.pk])
    ).content.decode()
    assert "Clicked https://shop.example/sale in “Sale”" in cy_page


@postgres_only
@pytest.mark.django_db
def test_the_hourly_schedule_drops_the_expired_months_and_makes_those_ahead(settings):
    schedule = Schedule.objects.get(name="activity-partitions")
    assert (schedule.minutes, schedule.repeats) == (60, -1)
    task = pydoc.locate(schedule.func)  # as django-q2 finds it
    assert callable(task)
    ensure_partitions(datetime.datetime(2001, 1, 1, tzinfo=UTC))  # 2001-01 to 2001-04
    settings.ACTIVITY_RETENTION_DAYS = 30

    task()

    left = partitions()
    assert not any(name.startswith("contacts_activity_p2001_") for name in left)
    this_month = month_start(timezone.now())
    assert {partition_name(this_month), partition_name(next_month(this_month))} <= left


# A transaction test: its flush truncates the DEFAULT partition, which the rows
# moved out of it would otherwise leave with dead pages for later tests' plans.
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_row_outside_the_months_goes_to_default_and_moves_to_its_month_later(settings):
    far_past = datetime.datetime(1999, 6, 15, 8, 30, tzinfo=UTC)
    far_future = datetime.datetime(2199, 1, 31, 23, 59, 59, tzinfo=UTC)
    try:
        _a_row_outside_the_months(settings, far_past, far_future)
    finally:
        with connection.cursor() as cursor:
            for moment in (far_past, far_future):
                month = month_start(moment)
                for _ in range(4):  # its month and the 3 ahead
                    cursor.execute(f"DROP TABLE IF EXISTS {partition_name(month)}")
                    month = next_month(month)


def _a_row_outside_the_months(settings, far_past, far_future) -> None:
    contact = ContactFactory.create()
    details = {"event_id": 7, "values": {"total": 12.5, "note": None}}
    kept = record_activities(
        [
            activity(contact, ActivityKind.EVENT_FIRED, moment, details)
            for moment in (far_past, far_future)
        ]
    )
    assert [partition_of(a.pk) for a in kept] == [DEFAULT_PARTITION, DEFAULT_PARTITION]
    assert default_partition_rows() == 2
    assert activity_default_partition_rows().samples[0].value == 2  # the operator's gauge

    created = ensure_partitions(far_past)
    # Its month (and those ahead of it) and the far future row's month.
    assert partition_name(far_past) in created and "contacts_activity_p2199_01" in created
    assert [partition_of(a.pk) for a in kept] == [
        partition_name(far_past),
        "contacts_activity_p2199_01",
    ]
    assert default_partition_rows() == 0
    moved = Activity.objects.get(pk=kept[0].pk)
    assert (moved.occurred_at, moved.details, moved.contact_id) == (
        far_past,
        details,
        contact.pk,
    )
    assert ensure_partitions(far_past) == []  # idempotent

    # With a retention, an expired row in the DEFAULT partition is deleted too.
    [expired] = record_activities(
        [activity(contact, ActivityKind.EVENT_FIRED, datetime.datetime(1980, 1, 1, tzinfo=UTC))]
    )
    assert partition_of(expired.pk) == DEFAULT_PARTITION
    settings.ACTIVITY_RETENTION_DAYS = 365
    assert partition_name(far_past) in drop_expired(timezone.now())
    assert not Activity.objects.filter(pk__in=[expired.pk, kept[0].pk]).exists()
    assert Activity.objects.filter(pk=kept[1].pk).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_making_the_same_months_make_each_once():
    start = datetime.datetime(2091, 3, 1, tzinfo=UTC)
    months = [start]
    while len(months) < 4:  # this month and the 3 ahead (ACTIVITY_PARTITIONS_AHEAD)
        months.append(next_month(months[-1]))
    wanted = [partition_name(month) for month in months]
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(ensure_partitions(start))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        made = sorted(name for result in results for name in result)
        assert made == sorted(wanted)  # each once, by one worker or the other
        assert set(wanted) <= partitions()
    finally:
        with connection.cursor() as cursor:
            for name in wanted:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    ContentType.objects.clear_cache()


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


COLUMNS = "id, contact_id, list_id, email, kind, occurred_at, details"


def activity_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM contacts_activity ORDER BY id")
        return cursor.fetchall()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_populated_table_without_losing_a_row():
    contact = ContactFactory(email="ada@example.com")
    try:
        migrate([MIGRATED])
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_partitioned_table")
            assert cursor.fetchone()[0] == 0  # the plain table, as before
            for n, at in enumerate(
                [
                    "2025-01-31 23:59:59.999999+00",  # the last instant of a month
                    "2025-02-01 00:00:00+00",  # the first of the next
                    "2025-02-14 10:00:00+01",  # a time zone other than UTC
                    "2026-06-30 12:00:00+00",
                    "1999-12-31 23:00:00-05",  # UTC's 2000-01-01
                ]
            ):
                details = (
                    '{"event_id": 3, "values": {"gift": null, "size": [1, "M"]}}'
                    if n == 2
                    else "{}"
                )
                cursor.execute(
                    "INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at,"
                    " details) VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
                    [contact.pk, contact.list_id, f"{n}@example.com", "event_fired", at, details],
                )
            # Ids the sequence gave to inserts that rolled back are never given again.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('contacts_activity', 'id'))"
                " FROM generate_series(1, 5)"
            )
            given = max(value for (value,) in cursor.fetchall())
        before = activity_rows()
        assert len(before) == 5

        migrate(latest())

        assert activity_rows() == before
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_partitioned_table"
                " WHERE partrelid = 'contacts_activity'::regclass"
            )
            assert cursor.fetchone()[0] == 1
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'contacts_activity'")
            indexes = {name for (name,) in cursor.fetchall()}
            cursor.execute(
                "SELECT stxname FROM pg_statistic_ext"
                " WHERE stxrelid = 'contacts_activity'::regclass"
            )
            statistics = {name for (name,) in cursor.fetchall()}
        assert indexes == {
            "contacts_activity_pkey",
            "activity_contact_recent",
            "activity_list_kind_time",
            "activity_conversation",
            "activity_broadcast",
            "activity_transactional",
        }
        assert statistics == {"activity_email_keys"}
        assert sorted({partition_of(row[0]) for row in before}) == [
            "contacts_activity_p2000_01",
            "contacts_activity_p2025_01",
            "contacts_activity_p2025_02",
            "contacts_activity_p2026_06",
        ]
        assert partition_name(timezone.now()) in partitions()
        assert DEFAULT_PARTITION in partitions()

        # New rows: ids handed out ahead (create_rows, with COPY), then by the ORM.
        [copied] = create_rows([activity(contact, ActivityKind.EMAIL_SENT)])
        created = Activity.objects.create(
            contact=contact, list_id=contact.list_id, email=contact.email, kind="email_opened"
        )
        assert given < copied.pk < created.pk
        assert Activity.objects.get(pk=created.pk).kind == "email_opened"
    finally:
        migrate(latest())


# --- The hot reads still use their indexes --------------------------------------------


@postgres_only
@pytest.mark.django_db
def test_the_contact_page_and_the_hooks_batch_read_through_indexes(shop):
    contact = ContactFactory(list=shop)
    batches = []

    def receiver(sender, activities, **kwargs) -> None:
        batches.append(activities)  # the batch every receiver is given

    activities_recorded.connect(receiver)
    try:
        saved = record_activities([activity(contact, ActivityKind.EMAIL_SENT)])
    finally:
        activities_recorded.disconnect(receiver)
    with CaptureQueriesContext(connection) as queries:
        story_page(contact=contact, user=AnonymousUser())  # the newest page
        story_page(contact=contact, user=AnonymousUser(), before=saved[0])  # an older one
    page = [q["sql"] for q in queries if 'FROM "contacts_activity"' in q["sql"]]
    assert len(batches) == 1 and len(page) == 2
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
        plan = batches[0].explain()
        # By id: each month's primary key (id, occurred_at).
        assert "Seq Scan" not in plan and "_pkey" in plan, plan
        for sql in page:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            # By contact, newest first: each month's activity_contact_recent.
            assert "Seq Scan" not in plan and "activity_contact_recent_" in plan, plan


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite side: PostgreSQL's is tested above")
@pytest.mark.django_db
def test_on_sqlite_the_plain_table_is_left_alone(settings):
    settings.ACTIVITY_RETENTION_DAYS = 1
    contact = ContactFactory()
    [old] = record_activities(
        [activity(contact, ActivityKind.EVENT_FIRED, datetime.datetime(1999, 6, 15, tzinfo=UTC))]
    )
    assert ensure_partitions() == [] and drop_expired() == []
    assert default_partition_rows() == 0
    assert Activity.objects.filter(pk=old.pk).exists()  # no retention without partitions
