"""The lease every claim of background work holds: a worker that stops
leaves its claim to others once the lease runs out; and the index order a
claim walks."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator

from django.conf import settings
from django.db import connections, router
from django.db.models import Model
from django.db.transaction import TransactionManagementError


def lease() -> datetime.timedelta:
    """How long a claim holds (``CONDUCTOR_LEASE_SECONDS``)."""
    return datetime.timedelta(seconds=settings.CONDUCTOR_LEASE_SECONDS)


@contextlib.contextmanager
def in_index_order(model: type[Model]) -> Iterator[None]:
    """Inside a transaction on PostgreSQL: the statements run in this block
    take the oldest rows by walking an index that holds them in order,
    stopping at the claim's limit, never by reading every waiting row and
    sorting them.

    The planner chooses by its statistics, and those are as old as the
    table's last ANALYZE: just after a broadcast queued a million emails
    (2 % of a large table, too few to start autovacuum's ANALYZE), it still
    believes a few dozen are waiting, and sorting a few dozen looks cheaper
    than the index. Then every claim of 500 reads and sorts the million.
    Sorting is switched off for the block (``SET LOCAL``, so also behind
    PgBouncer in transaction mode) and put back as it was. A walk that finds
    fewer rows than its limit reads to the index's end: for a lookup of a
    few known rows, do not use it."""
    connection = connections[router.db_for_write(model)]
    if not connection.in_atomic_block:  # SET LOCAL would end with its own statement
        raise TransactionManagementError("in_index_order() needs a transaction.")
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # The setting as it was, read before it is changed (the CTE is scanned first).
        cursor.execute(
            "WITH before AS MATERIALIZED (SELECT current_setting('enable_sort') AS value) "
            "SELECT value, set_config('enable_sort', 'off', true) FROM before"
        )
        (before, _) = cursor.fetchone()
    # Not restored after an error: its transaction is rolled back, and the
    # setting with it (at worst, later statements of the same transaction
    # walk indexes too).
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_sort', %s, true)", [before])
