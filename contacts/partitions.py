"""The activity log's monthly partitions, on PostgreSQL.

``contacts_activity`` is partitioned by range of ``occurred_at``, one partition
per UTC month (``contacts_activity_p2026_12``), and a DEFAULT partition that
takes any row outside them, so that no insert ever fails (migration 0006
converts the table). A scheduled task (``activity-partitions``, hourly) runs
:func:`maintain` (and every ``migrate``, :func:`ensure_partitions`):

- :func:`drop_expired` drops whole months older than
  ``ACTIVITY_RETENTION_DAYS`` (0: keep everything), and such rows of the
  DEFAULT partition;
- :func:`ensure_partitions` creates the current month's partition and
  ``ACTIVITY_PARTITIONS_AHEAD`` months after it, and one for every month the
  DEFAULT partition holds rows of (backdated activity), moving those rows in.

Rows left in the DEFAULT partition mean the task is not running; the
``retailmail_activity_default_partition_rows`` gauge shows them. SQLite keeps
a plain table: everything here does nothing there.
"""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

TABLE = "contacts_activity"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTH_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")
#: The transaction-level advisory lock that serialises the workers changing
#: partitions (never a session lock: PgBouncer's transaction mode shares sessions).
LOCK_KEY = 0x616374_7061_7274  # "act" "pa" "rt"
#: Creating, attaching and dropping a partition lock the table briefly; behind
#: a long report they would make every write of the log wait. Give up instead:
#: the next run tries again.
LOCK_TIMEOUT = "5s"
#: The gauge counts the DEFAULT partition's rows up to this many (a cheap read).
DEFAULT_ROWS_CAP = 10_000


def month_start(moment: datetime.datetime) -> datetime.datetime:
    """The first instant of ``moment``'s UTC month."""
    utc = moment.astimezone(datetime.UTC)
    return datetime.datetime(utc.year, utc.month, 1, tzinfo=datetime.UTC)


def next_month(month: datetime.datetime) -> datetime.datetime:
    if month.month == 12:
        return month.replace(year=month.year + 1, month=1)
    return month.replace(month=month.month + 1)


def partition_name(month: datetime.datetime) -> str:
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def is_partitioned(connection: BaseDatabaseWrapper) -> bool:
    """Whether the activity table is partitioned (PostgreSQL, migrated)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))",
            [TABLE],
        )
        return bool(cursor.fetchone()[0])


def ensure_partitions(
    now: datetime.datetime | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Create the partitions of the current month, the ``ACTIVITY_PARTITIONS_AHEAD``
    months after it and every month the DEFAULT partition holds rows of, moving
    those rows in. Idempotent; two workers at once create each partition once.
    Returns the names of the partitions created."""
    connection = connections[using]
    if not is_partitioned(connection):
        return []
    first = month_start(now or timezone.now())
    months = [first]
    for _ in range(settings.ACTIVITY_PARTITIONS_AHEAD):
        months.append(next_month(months[-1]))
    created = []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')"
            f" FROM {DEFAULT_PARTITION}"
        )
        backdated = [row[0].replace(tzinfo=datetime.UTC) for row in cursor.fetchall()]
        for month in sorted(set(months) | set(backdated)):
            if _create_month(cursor, month):
                created.append(partition_name(month))
    return created


def drop_expired(
    now: datetime.datetime | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> list[str]:
    """Drop the months that ended more than ``ACTIVITY_RETENTION_DAYS`` before
    ``now`` (0: none), and delete such rows from the DEFAULT partition.
    Returns the names of the partitions dropped."""
    days = settings.ACTIVITY_RETENTION_DAYS
    connection = connections[using]
    if not days or not is_partitioned(connection):
        return []
    # Whole months only: a month goes when its last row is past the retention.
    keep_from = month_start((now or timezone.now()) - datetime.timedelta(days=days))
    dropped = []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _lock(cursor)
        for name in _month_partitions(cursor):
            match = MONTH_NAME.match(name)
            assert match is not None  # _month_partitions keeps only these
            month = datetime.datetime(int(match[1]), int(match[2]), 1, tzinfo=datetime.UTC)
            if next_month(month) <= keep_from:
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
        cursor.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE occurred_at < %s", [keep_from])
    return dropped


def maintain() -> None:
    """The scheduled task (``activity-partitions``): drop the expired months
    (and rows), then create the months ahead and those of the rows left."""
    now = timezone.now()
    drop_expired(now)
    ensure_partitions(now)


def default_partition_rows(*, using: str = DEFAULT_DB_ALIAS) -> int:
    """How many rows the DEFAULT partition holds, up to ``DEFAULT_ROWS_CAP``
    (0 on SQLite). More than none: the partitions are not made ahead."""
    connection = connections[using]
    if not is_partitioned(connection):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {DEFAULT_PARTITION} LIMIT %s) AS capped",
            [DEFAULT_ROWS_CAP],
        )
        return int(cursor.fetchone()[0])


def _lock(cursor) -> None:
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _month_partitions(cursor) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
        [TABLE],
    )
    return [name for (name,) in cursor.fetchall() if MONTH_NAME.match(name)]


def _create_month(cursor, month: datetime.datetime) -> bool:
    """Create ``month``'s partition unless it exists, with the DEFAULT
    partition's rows of that month (PostgreSQL refuses to attach a partition
    while the DEFAULT one holds rows that belong in it). Under the lock."""
    name = partition_name(month)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    lower, upper = _literal(month), _literal(next_month(month))
    in_month = f"occurred_at >= {lower} AND occurred_at < {upper}"
    # Nothing may write the month's rows into the DEFAULT partition between the
    # move and the attach (attaching locks it so anyway; lock it first).
    cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE})")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE {in_month} RETURNING *)"
        f" INSERT INTO {name} SELECT * FROM moved"
    )
    # Attaching builds the table's indexes (the parent's) and checks its rows.
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})"
    )
    name_indexes(cursor, name)
    return True


def name_indexes(cursor, partition: str) -> None:
    """Rename the indexes PostgreSQL made on ``partition`` for the parent's
    after the parent's: ``activity_contact_recent_p2026_12``. A plan then says
    which index it reads (tests/test_conductor_reports.py and others check)."""
    cursor.execute(
        "SELECT child.relname, parent.relname FROM pg_index x"
        " JOIN pg_class child ON child.oid = x.indexrelid"
        " JOIN pg_inherits i ON i.inhrelid = x.indexrelid"
        " JOIN pg_class parent ON parent.oid = i.inhparent"
        " WHERE x.indrelid = to_regclass(%s) AND NOT x.indisprimary",
        [partition],
    )
    suffix = partition.removeprefix(f"{TABLE}_")
    for child, parent in cursor.fetchall():
        if child != f"{parent}_{suffix}":
            cursor.execute(f"ALTER INDEX {child} RENAME TO {parent}_{suffix}")


def _literal(month: datetime.datetime) -> str:
    """A month's first instant as SQL (partition bounds take no parameters)."""
    return f"'{month:%Y-%m-%d} 00:00:00+00'::timestamptz"
