"""Broadcast and transactional reports read only their own activity.

As the conversation reports' ``activity_conversation`` index
(``conductor`` migrations 0005 and 0012), partial expression indexes on
PostgreSQL hold only the email activity that names a broadcast, or a
transactional message, keyed the way the ORM spells
``details__broadcast_id=...``: a report, an engagement probe or an activity
page reads its own rows, not the list's whole history. SQLite, the
development database, goes without.
"""

from django.db import migrations

KINDS = (
    "email_opened",
    "email_clicked",
    "email_bounced",
    "email_spam",
    "unsubscribed",
    "email_converted",
)
INDEXES = {
    "activity_broadcast": "(details -> 'broadcast_id')",
    "activity_transactional": "(details -> 'transactional_id')",
}
MESSAGE = "(details -> 'message_id')"


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    for name, key in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON contacts_activity"
            f" ({key}, kind, {MESSAGE}, contact_id, occurred_at)"
            f" WHERE kind IN ({kinds}) AND {key} IS NOT NULL"
        )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("broadcasts", "0001_initial"),
        ("contacts", "0004_contact_fillfactor"),
    ]
    # On the plain table, before contacts partitions it (which keeps the indexes).
    run_before = [("contacts", "0006_partition_activity")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
