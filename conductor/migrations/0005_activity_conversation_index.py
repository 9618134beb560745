"""Conversation reports read only their own conversation's activity.

The report queries (``conductor.reports`` and the REST report resources) count
a conversation's opens, clicks, bounces, complaints, unsubscribes and
conversions, which the activity log keeps with the conversation in their
details. Without an index they read every such activity of the list and filter
the JSON: 0.73 s for a report over 3 million activities, 0.10 s with it, and
growing with the list's whole history instead of the conversation's own. This
partial expression index on PostgreSQL holds only those kinds of activity that
name a conversation, keyed the way the ORM spells
``details__conversation_id=...``. Imports' subscriptions and profile updates,
and the one "sent" activity per email, are not in it and cost it nothing.
SQLite, the development database, goes without.
"""

from django.db import migrations

NAME = "activity_conversation"
KINDS = (
    "email_opened",
    "email_clicked",
    "email_bounced",
    "email_spam",
    "unsubscribed",
    "email_converted",
)
CONVERSATION = "(details -> 'conversation_id')"


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    schema_editor.execute(
        f"CREATE INDEX {NAME} ON contacts_activity ({CONVERSATION}, kind)"
        f" WHERE kind IN ({kinds}) AND {CONVERSATION} IS NOT NULL"
    )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("conductor", "0004_fewer_indexes"),
        ("contacts", "0004_contact_fillfactor"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
