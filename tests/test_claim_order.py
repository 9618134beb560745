"""A claim of waiting emails, or of contacts due in a conversation, walks
the index that holds them oldest first and stops at its limit, even when
PostgreSQL's statistics are from before they were queued (a broadcast just
chose its audience, an import just entered its contacts): the planner would
otherwise read every waiting row and sort them, for each claim."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broadcasts.sending import choose_recipients, start_due
from broadcasts.services import create_broadcast, schedule_broadcast
from conductor.engine.claims import claim_due
from conductor.models import Enrollment
from contacts.models import Contact, SubscriptionState
from core.claims import in_index_order
from emails.models import Delivery, DeliveryStatus
from emails.sending.delivery import _claim
from tests.factories import MessageFactory
from tests.test_conductor_race import contacts_due
from tests.test_faults_workers import ON_SQLITE

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    ON_SQLITE, reason="PostgreSQL's planner: SQLite keeps no statistics to be out of date"
)

WAITING = 3_000
LIMIT = 200


def enable_sort() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_sort')")
        return cursor.fetchone()[0]


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@postgres_only
def test_a_claim_walks_the_index_of_waiting_emails_with_statistics_from_before_they_came(shop):
    message = MessageFactory(list=shop, subject="Sale", html_body="<p>Hi</p>", text_body="Hi")
    Contact.objects.bulk_create(
        Contact(
            list=shop,
            email=f"c{n:05d}@example.com",
            state=SubscriptionState.SUBSCRIBED,
            subscribed_at=timezone.now(),
        )
        for n in range(WAITING)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE emails_delivery")  # the statistics of an empty table
    broadcast = create_broadcast(email_list=shop, name="Sale", message=message)
    schedule_broadcast(broadcast=broadcast)
    start_due()
    while choose_recipients(budget=5.0):
        pass
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == WAITING

    with CaptureQueriesContext(connection) as queries:
        token, claimed = _claim(LIMIT)

    oldest = list(Delivery.objects.order_by("created_at", "pk").values_list("pk", flat=True))
    assert sorted(claimed) == sorted(oldest[:LIMIT])
    claimed_now = Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING)
    assert claimed_now.count() == LIMIT
    statements = [q["sql"] for q in queries.captured_queries]
    selects = [n for n, sql in enumerate(statements) if "SKIP LOCKED" in sql]
    assert len(selects) == 2  # the transactional lane, then the rest
    for n in selects:
        assert "set_config('enable_sort', 'off', true)" in statements[n - 1]
        assert "set_config('enable_sort'" in statements[n + 1]  # put back at once
    claim_sql = statements[selects[1]]
    assert "NOT" in claim_sql and "transactional" in claim_sql

    # Without the block, what the planner chooses depends on the statistics
    # it has: with those of an empty table, every waiting email read, then sorted.
    with transaction.atomic(), in_index_order(Delivery):
        walked = explain(claim_sql)
    assert "Index Scan using delivery_unsent" in walked
    assert "Sort" not in walked


@postgres_only
def test_a_conductor_claim_walks_the_due_index_with_statistics_from_before_they_entered(shop):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conductor_enrollment")  # the statistics of an empty table
    contacts_due(shop, WAITING)

    with CaptureQueriesContext(connection) as queries:
        token = claim_due(LIMIT)

    first_due = list(Enrollment.objects.order_by("due_at", "pk").values_list("pk", flat=True))
    claimed = Enrollment.objects.filter(claim_token=token).values_list("pk", flat=True)
    assert sorted(claimed) == sorted(first_due[:LIMIT])
    statements = [q["sql"] for q in queries.captured_queries]
    select = next(n for n, sql in enumerate(statements) if "SKIP LOCKED" in sql)
    assert "set_config('enable_sort', 'off', true)" in statements[select - 1]
    assert "set_config('enable_sort'" in statements[select + 1]
    with transaction.atomic(), in_index_order(Enrollment):
        walked = explain(statements[select])
    assert "Index Scan using enrollment_due" in walked
    assert "Sort" not in walked


def test_the_planner_setting_is_off_only_inside_the_block():
    if connection.vendor != "postgresql":
        with transaction.atomic(), in_index_order(Delivery):  # nothing to switch
            assert not Delivery.objects.exists()
        return
    with transaction.atomic():
        assert enable_sort() == "on"
        with in_index_order(Delivery):
            assert enable_sort() == "off"
        assert enable_sort() == "on"
    with connection.cursor() as cursor:
        cursor.execute("SET enable_sort = off")  # a session that chose otherwise keeps its choice
    try:
        with transaction.atomic():
            with in_index_order(Delivery):
                assert enable_sort() == "off"
            assert enable_sort() == "off"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET enable_sort")
