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
    """Count one post against each limit. None when every limit allows it;
    else the seconds until the fullest window ends (for ``Retry-After``)."""
    epoch = int(timezone.now().timestamp())
    starts = {limit.key: epoch - epoch % limit.seconds for limit in limits}
    counts = _count(starts)
    waits = [
        starts[limit.key] + limit.seconds - epoch
        for limit in limits
        if counts[limit.key] > limit.count
    ]
    return max(waits) if waits else None


def _count(starts: dict[str, int]) -> dict[str, int]:
    """Add one to the window starting at ``starts[key]`` of each key, in one
    statement; each window's count after it."""
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    rows = ", ".join(["(%s, %s, 1)"] * len(starts))
    params: list[object] = []
    for key, start in starts.items():
        moment = datetime.datetime.fromtimestamp(start, tz=datetime.UTC)
        params += [key, connection.ops.adapt_datetimefield_value(moment)]
    with connection.cursor() as cursor:
        # ON CONFLICT … RETURNING: PostgreSQL, and SQLite from 3.35.
        cursor.execute(
            f"INSERT INTO {table} (key, starts_at, count) VALUES {rows} "
            f"ON CONFLICT (key, starts_at) DO UPDATE SET count = {table}.count + 1 "
            "RETURNING key, count",
            params,
        )
        return {key: int(count) for key, count in cursor.fetchall()}


def forget_old_windows() -> int:
    """Delete the windows that ended over a day ago (the hourly sweep)."""
    cutoff = timezone.now() - datetime.timedelta(days=1)
    deleted, _ = RateWindow.objects.filter(starts_at__lt=cutoff).delete()
    return deleted
