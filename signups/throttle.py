"""Rate limits on signups, counted in the database.

Every web server of a deployment shares the database, and not always a cache:
each limit is a fixed window (``RateWindow``) whose count goes up by one per
post with a single atomic upsert, so posts racing on many servers are all
counted. (django-ratelimit needs a cache with atomic increments, which the
database cache is not.)
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from signups.models import RateWindow


@dataclass(frozen=True)
class Limit:
    key: str
    count: int
    seconds: int


def address_limit(address: str) -> Limit:
    """The limit on one client address, over every point. The address is kept
    hashed: the table says how busy an address is, not whose it is."""
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()[:32]
    return Limit(
        key=f"ip:{digest}",
        count=settings.SIGNUP_LIMIT_PER_ADDRESS,
        seconds=settings.SIGNUP_LIMIT_MINUTES * 60,
    )


def point_limit(point_id: int, per_minute: int) -> Limit:
    return Limit(key=f"point:{point_id}", count=per_minute, seconds=60)


def over_limit(*limits: Limit) -> int | None:
    """Count one post against each limit in turn, up to the first that refuses
    it. None when every limit allows it; else the seconds until that limit's
    window ends (for ``Retry-After``).

    A post one limit refuses is not counted against the next: one client
    over its own limit (the address's, given first) must not use up the
    point's, which every visitor shares."""
    epoch = int(timezone.now().timestamp())
    for limit in limits:
        start = epoch - epoch % limit.seconds
        if _count(limit.key, start) > limit.count:
            return start + limit.seconds - epoch
    return None


def _count(key: str, start: int) -> int:
    """Add one to the window of ``key`` starting at ``start`` (a Unix time), in
    one statement; its count after it."""
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    moment = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
    with connection.cursor() as cursor:
        # ON CONFLICT … RETURNING: PostgreSQL, and SQLite from 3.35.
        cursor.execute(
            f"INSERT INTO {table} (key, starts_at, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key, starts_at) DO UPDATE SET count = {table}.count + 1 "
            "RETURNING count",
            [key, connection.ops.adapt_datetimefield_value(moment)],
        )
        (count,) = cursor.fetchone()
        return int(count)


def forget_old_windows() -> int:
    """Delete the windows that ended over a day ago (the hourly sweep)."""
    cutoff = timezone.now() - datetime.timedelta(days=1)
    deleted, _ = RateWindow.objects.filter(starts_at__lt=cutoff).delete()
    return deleted
