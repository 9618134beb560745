"""Messages, their links and deliveries moved from ``conductor`` to the
``emails`` app (``conductor.0009``, ``emails.0001``): a database with rows in
those tables migrates without losing one, and keeps what staff were allowed.

The rows are written at the latest schema, the database is migrated back to
before the move (the rows go back to Conductor's tables, shaped as then),
and forward again: what the forward migration does to a live database."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conductor.engine.step_emails import step_run_type
from conductor.models import StepKind
from emails.models import Delivery, DeliveryStatus, Message, MessageLink
from tests.factories import DeliveryFactory, EnrollmentFactory, StepFactory, StepRunFactory

BEFORE = [("conductor", "0008_step_kind_from_registry"), ("emails", None)]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    ContentType.objects.clear_cache()


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def rows(table: str, columns: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY id")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_moving_the_email_models_keeps_every_row_and_permission():
    step = StepFactory(kind=StepKind.MESSAGE)
    message = Message.objects.get(pk=step.settings["message"])
    link = MessageLink.objects.create(
        message=message, url="https://shop.example/", url_hash="a" * 64
    )
    sent_run = StepRunFactory(step=step)
    enrollment = EnrollmentFactory(
        step=step, trigger_details={"event": "Purchase", "orderTotal": 12}
    )
    pending_run = StepRunFactory(step=step, enrollment=enrollment)
    rendered = {"email": "ada@example.com", "profile": {"first_name": "Ada"}, "trigger": {}}
    sent = DeliveryFactory(
        step_run=sent_run,
        status=DeliveryStatus.SENT,
        merge_context=rendered,
        subject="Hello Ada",
    )
    pending = DeliveryFactory(step_run=pending_run)
    editors = Group.objects.create(name="Editors")
    editors.permissions.add(Permission.objects.get(codename="change_message"))
    editor = User.objects.create_user("editor", is_staff=True)
    editor.groups.add(editors)

    try:
        migrate(BEFORE)
        # As before the move: Conductor's tables, a step run column, nothing supplied.
        assert rows("conductor_delivery", "id, step_run_id, status") == [
            (sent.pk, sent_run.pk, "Sent"),
            (pending.pk, pending_run.pk, "Pending"),
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE conductor_delivery SET merge_context = '{}' WHERE id = %s", [pending.pk]
            )
        assert ContentType.objects.filter(app_label="conductor", model="message").exists()
    finally:
        migrate(latest())

    assert list(Message.objects.values_list("pk", "name")) == [(message.pk, message.name)]
    assert list(MessageLink.objects.values_list("pk", "url")) == [(link.pk, link.url)]
    moved = {d.pk: d for d in Delivery.objects.all()}
    assert set(moved) == {sent.pk, pending.pk}
    for delivery, run in ((moved[sent.pk], sent_run), (moved[pending.pk], pending_run)):
        assert (delivery.source_type, delivery.source_id) == (step_run_type(), run.pk)
        assert delivery.details == {"conversation_id": run.enrollment.conversation_id}
        assert delivery.contact_id == run.enrollment.contact_id
        assert delivery.message_id == message.pk
    # What the sent email was rendered with is kept; the pending one gets its trigger.
    assert moved[sent.pk].merge_context == rendered
    assert moved[sent.pk].subject == "Hello Ada"
    assert moved[pending.pk].merge_context == {
        "trigger": {"kind": enrollment.trigger_kind, "event": "Purchase", "orderTotal": 12}
    }
    # Conductor still reaches its emails through the step runs.
    assert Delivery.objects.filter(step_run__enrollment=enrollment).get().pk == pending.pk
    # The editors may still change messages, now the emails app's.
    assert not ContentType.objects.filter(app_label="conductor", model="message").exists()
    assert User.objects.get(pk=editor.pk).has_perm("emails.change_message")
    # New rows continue the tables' ids.
    later = DeliveryFactory(step_run=StepRunFactory(step=step))
    assert later.pk > max(moved)
