"""A claim of waiting emails, or of contacts due in a conversation, walks
the index that holds them oldest first and stops at its limit, even when
PostgreSQL's statistics are from before they were queued (a broadcast just
chose its audience, an import just entered its contacts): the planner would
otherwise read every waiting row and sort them, for each claim."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from broadcasts.sending import choose_recipients, start_due
from broadcasts.services import create_broadcast, schedule_broadcast
from conductor.engine.claims import claim_due
from conductor.models import Enrollment
from contacts.models import Contact, SubscriptionState
from core.claims import in_index_order
from emails.models import Delivery, DeliveryStatus, Message
from emails.sending.delivery import _claim, send_now
from tests.factories import MessageFactory
from tests.test_conductor_race import contacts_due
from tests.test_faults_workers import ON_SQLITE

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


def empty_statistics(table: str) -> None:
    """The table's statistics as an ANALYZE of it empty leaves them."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


def oldest_last(table: str, column: str) -> None:
    """Give each row its own time, the highest ids the oldest: the claim's
    order is then not the ids' (nor the order the rows were written in)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = now() - id * interval '1 second'")


def claim_statements(captured: list[dict[str, str]]) -> list[int]:
    """The positions of the claims' SELECTs, each checked to run with
    sorting switched off and put back right after."""
    statements = [q["sql"] for q in captured]
    selects = [n for n, sql in enumerate(statements) if "SKIP LOCKED" in sql]
    for n in selects:
        assert "set_config('enable_sort', 'off', true)" in statements[n - 1]
        assert "set_config('enable_sort'" in statements[n + 1]  # put back at once
    return selects


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_claim_of_emails_takes_the_oldest_along_the_index_with_statistics_from_before(shop):
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
    empty_statistics("emails_delivery")
    broadcast = create_broadcast(email_list=shop, name="Sale", message=message)
    schedule_broadcast(broadcast=broadcast)
    start_due()
    while choose_recipients(budget=5.0):
        pass
    oldest_last("emails_delivery", "created_at")
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == WAITING

    with CaptureQueriesContext(connection) as queries:
        token, claimed = _claim(LIMIT)

    by_age = list(Delivery.objects.order_by("created_at").values_list("pk", flat=True))
    assert claimed == by_age[:LIMIT]
    claimed_now = Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING)
    assert claimed_now.count() == LIMIT
    selects = claim_statements(queries.captured_queries)
    assert len(selects) == 2  # the receipts' lane, then the rest
    with transaction.atomic(), in_index_order(Delivery):
        walked = explain(queries.captured_queries[selects[1]]["sql"])
    assert "Index Scan using delivery_unsent" in walked
    assert "Sort" not in walked


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_conductor_claim_takes_the_first_due_along_the_index_with_statistics_from_before(shop):
    empty_statistics("conductor_enrollment")
    contacts_due(shop, WAITING)
    oldest_last("conductor_enrollment", "due_at")

    with CaptureQueriesContext(connection) as queries:
        token = claim_due(LIMIT)

    first_due = list(Enrollment.objects.order_by("due_at").values_list("pk", flat=True))
    claimed = Enrollment.objects.filter(claim_token=token).values_list("pk", flat=True)
    assert sorted(claimed) == sorted(first_due[:LIMIT])
    (select,) = claim_statements(queries.captured_queries)
    with transaction.atomic(), in_index_order(Enrollment):
        walked = explain(queries.captured_queries[select]["sql"])
    assert "Index Scan using enrollment_due" in walked
    assert "Sort" not in walked


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_sending_known_emails_at_once_finds_them_by_id_not_along_the_index(shop):
    message = MessageFactory(list=shop, subject="Receipt", html_body="", text_body="Thanks")
    contact = Contact.objects.create(list=shop, email="a@example.com", subscribed_at=timezone.now())
    delivery = Delivery.objects.create(
        source_type=ContentType.objects.get_for_model(Message),
        source_id=message.pk,
        message=message,
        contact=contact,
        transactional=True,
    )
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENDING)  # a worker has it

    with CaptureQueriesContext(connection) as queries:
        assert send_now([delivery.pk]) == 0

    statements = [q["sql"] for q in queries.captured_queries]
    assert any("SKIP LOCKED" in sql for sql in statements)
    assert not any("enable_sort" in sql for sql in statements)


@postgres_only
@pytest.mark.django_db
def test_the_planner_setting_is_off_only_inside_the_block():
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


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_block_is_refused():
    refused = pytest.raises(TransactionManagementError, match="needs a transaction")
    with refused, in_index_order(Delivery):
        pass
