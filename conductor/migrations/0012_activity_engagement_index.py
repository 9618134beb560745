"""Go To engagement criteria find a contact's opens and clicks of one message.

"Opened message M of this conversation (within N days)" is an EXISTS over
the activity log per contact (``conductor.filters.sql``). The conversation
reports' partial index (``activity_conversation``, migration 0005) is keyed
by conversation and kind only, so each probe would read every open of the
conversation; the contact's own index (``activity_contact_recent``) reads
all of that contact's activity and its JSON. Rather than add a third index
to a table written constantly, this widens the reports' index to
(conversation, kind, message, contact, time): the reports still read its
leading columns, and a probe is one index descent. It holds the same rows
(the engagement kinds naming a conversation), so no write pays for a new
index; only its entries grow.

PostgreSQL keeps no statistics on the JSON keys (a partial index's
expressions are not used for estimates), so it guessed 1 row where there
were thousands and, for a batch of 1,000 contacts, rescanned every click of
the message per contact instead of probing: 0.8 s instead of 0.06 s on 30,000
contacts and 300,000 activities. Statistics on the two expressions
(``activity_email_keys``, PostgreSQL 14+) cost ANALYZE a little and writes
nothing, and make the estimates right.

Built CONCURRENTLY (no transaction), so the activity log takes writes while
it builds; the old index is dropped once the new one is ready. SQLite, the
development database, goes without, as with 0005.
"""

from django.db import migrations

NAME = "activity_conversation"
BUILDING = "activity_conversation_building"
KINDS = (
    "email_opened",
    "email_clicked",
    "email_bounced",
    "email_spam",
    "unsubscribed",
    "email_converted",
)
# Keyed the way the ORM spells details__conversation_id=... and details__message_id=...
CONVERSATION = "(details -> 'conversation_id')"
MESSAGE = "(details -> 'message_id')"
WIDE = f"{CONVERSATION}, kind, {MESSAGE}, contact_id, occurred_at"
NARROW = f"{CONVERSATION}, kind"
STATISTICS = "activity_email_keys"


def _rebuild(schema_editor, columns: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    kinds = ", ".join(f"'{kind}'" for kind in KINDS)
    run = schema_editor.execute
    run(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")  # left invalid by a failed build
    run(
        f"CREATE INDEX CONCURRENTLY {BUILDING} ON contacts_activity ({columns})"
        f" WHERE kind IN ({kinds}) AND {CONVERSATION} IS NOT NULL"
    )
    run(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    run(f"ALTER INDEX {BUILDING} RENAME TO {NAME}")


def widen(apps, schema_editor) -> None:
    _rebuild(schema_editor, WIDE)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {STATISTICS}"
            f" ON {CONVERSATION}, {MESSAGE} FROM contacts_activity"
        )
        schema_editor.execute("ANALYZE contacts_activity")  # now, not at autovacuum's next


def narrow(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    _rebuild(schema_editor, NARROW)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("conductor", "0011_email_outcome"),
    ]
    # Built on the plain table, before contacts partitions it (which keeps the
    # index): a partitioned table takes no CREATE INDEX CONCURRENTLY.
    run_before = [("contacts", "0006_partition_activity")]

    operations = [migrations.RunPython(widen, narrow, elidable=False)]
