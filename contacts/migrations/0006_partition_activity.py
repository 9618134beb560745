"""The activity log becomes a table partitioned by month, on PostgreSQL.

``contacts_activity`` grows with every email sent, opened and clicked; as
monthly range partitions of ``occurred_at`` (UTC), old months can be dropped
whole (``ACTIVITY_RETENTION_DAYS``) instead of deleted row by row, and a query
bounded in time reads only its months. ``contacts.partitions`` keeps the months
ahead; a DEFAULT partition takes any row outside them.

The table is rebuilt under an exclusive lock, in this migration's transaction:
the old one is renamed out of the way, the partitioned one created like it
(same columns, identity), with a partition for every month the rows fall in
and the months ahead, the rows copied, the identity continued after the old
one, and the indexes and statistics rebuilt under their own names (those of
Django, and those of the conductor's and broadcasts' migrations). PostgreSQL
requires the partition key in the primary key: it becomes (id, occurred_at);
ids still come from the one sequence, and nothing refers to an activity.
Django's state is unchanged (``id`` is still the model's primary key).

On millions of rows this rewrites the table (README: production upgrade
notes). Reversible: the reverse rebuilds a plain table the same way. SQLite,
the development database, keeps its plain table.
"""

import datetime

from django.conf import settings
from django.db import migrations

TABLE = "contacts_activity"


def _month_literal(month: datetime.date) -> str:
    return f"'{month:%Y-%m-%d} 00:00:00+00'::timestamptz"


def _next_month(month: datetime.date) -> datetime.date:
    return datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    """Rebuild the activity table, partitioned by month or plain, with its rows,
    identity, indexes and statistics."""
    if schema_editor.connection.vendor != "postgresql":
        return
    old = f"{TABLE}_partitioned" if not partitioned else f"{TABLE}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:

        def rows(sql: str, params=()) -> list:
            cursor.execute(sql, params)
            return cursor.fetchall()

        run = schema_editor.execute
        run(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        # The indexes and statistics, as created (the primary key is made below).
        indexes = rows(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY c.relname",
            [TABLE],
        )
        statistics = rows(
            "SELECT stxname, pg_get_statisticsobjdef(oid) FROM pg_statistic_ext"
            " WHERE stxrelid = %s::regclass ORDER BY stxname",
            [TABLE],
        )
        (sequence,) = rows("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0]
        # Free the names for the new table.
        for name, _ in indexes:
            run(f"DROP INDEX {name}")
        for name, _ in statistics:
            run(f"DROP STATISTICS {name}")
        run(f"ALTER TABLE {TABLE} RENAME TO {old}")
        run(f"ALTER TABLE {old} RENAME CONSTRAINT {TABLE}_pkey TO {old}_pkey")
        run(f"ALTER SEQUENCE {sequence} RENAME TO {old}_id_seq")

        # The same columns in the same order, NOT NULLs and a new identity.
        layout = f"(LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY)"
        if partitioned:
            run(f"CREATE TABLE {TABLE} {layout} PARTITION BY RANGE (occurred_at)")
            first = datetime.datetime.now(datetime.UTC).date().replace(day=1)
            ahead = [first]
            for _ in range(settings.ACTIVITY_PARTITIONS_AHEAD):
                ahead.append(_next_month(ahead[-1]))
            present = rows(
                f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date"
                f" FROM {old}"
            )
            for month in sorted({*ahead, *(m for (m,) in present)}):
                run(
                    f"CREATE TABLE {TABLE}_p{month:%Y_%m} PARTITION OF {TABLE} FOR VALUES"
                    f" FROM ({_month_literal(month)}) TO ({_month_literal(_next_month(month))})"
                )
            run(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        else:
            run(f"CREATE TABLE {TABLE} {layout}")
        run(f"INSERT INTO {TABLE} SELECT * FROM {old}")

        # Ids continue after every id the old sequence gave (rolled back ones too).
        (given,) = rows(f"SELECT CASE WHEN is_called THEN last_value END FROM {old}_id_seq")[0]
        (highest,) = rows(f"SELECT max(id) FROM {old}")[0]
        last = max(given or 0, highest or 0)
        if last:
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [TABLE, last])

        key = "id, occurred_at" if partitioned else "id"
        run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({key})")
        for _, definition in indexes:
            # A partitioned table's index is defined "ON ONLY" the parent.
            run(definition.replace(" ON ONLY ", " ON ", 1))
        for _, definition in statistics:
            run(definition)
        if partitioned:
            # Each partition's indexes named after the parent's (activity_contact_recent_p2026_12),
            # as contacts.partitions names those of the months it adds.
            for child, parent, table in rows(
                "SELECT child.relname, parent.relname, t.relname FROM pg_index x"
                " JOIN pg_class child ON child.oid = x.indexrelid"
                " JOIN pg_class t ON t.oid = x.indrelid"
                " JOIN pg_inherits i ON i.inhrelid = x.indexrelid"
                " JOIN pg_class parent ON parent.oid = i.inhparent"
                " WHERE parent.relname = ANY(%s)",
                [[name for name, _ in indexes]],
            ):
                run(f"ALTER INDEX {child} RENAME TO {parent}_{table.removeprefix(TABLE + '_')}")
        run(f"DROP TABLE {old}")  # with its partitions, indexes and sequence
        run(f"ANALYZE {TABLE}")


def partition(apps, schema_editor) -> None:
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor) -> None:
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("contacts", "0005_never_subscribed"),
    ]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
