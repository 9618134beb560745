"""Calendar arithmetic for Wait steps: local wall times to UTC, anniversaries.

Everything here is pure and cheap (no database, no I/O), so the executor can
call it once per waiting contact.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

UTC = dt.UTC
LAST = -1  # the "n" of "the last Tuesday of the month"
_CANONICAL_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


def local_instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of the wall time ``day time`` in ``zone``.

    A wall time skipped by a forward clock change (02:30 on a spring-forward
    night) means the first instant after the gap, the moment the clocks jump
    (03:00 EDT); one repeated by a backward change means its first occurrence.
    """
    return resolve_wall_time(dt.datetime.combine(day, time), zone)


def resolve_wall_time(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of the naive local datetime ``wall`` in ``zone``; see
    ``local_instant`` for times in a gap or repeated by a clock change."""
    wall = wall.replace(tzinfo=None, fold=0)
    # fold=0 is the first occurrence of an ambiguous time (PEP 495).
    after = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall_time(after, zone) == wall:
        return after
    # ``wall`` is in a gap. Mapped with the offset after the change (fold=1) it
    # lands before the change; with the offset before it (fold=0), after. The
    # change itself is the first whole second in between whose wall time is
    # past ``wall``: transitions fall on whole seconds.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall_time(dt.datetime.fromtimestamp(middle, UTC), zone) > wall:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, UTC)


def _wall_time(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def add_calendar_days(instant: dt.datetime, days: int, zone: ZoneInfo) -> dt.datetime:
    """``instant`` moved ``days`` calendar days in ``zone``, keeping its wall
    time (09:00 stays 09:00 across a clock change), as a UTC instant."""
    if days == 0:
        # Not through the wall time: a repeated hour's second occurrence would
        # come back as its first, an hour early.
        return instant.astimezone(UTC)
    wall = instant.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=days)
    return resolve_wall_time(wall, zone)


def profile_date(profile: Mapping[str, str], field_id: int) -> dt.date | None:
    """The date stored for ``field_id`` (canonical ``YYYY-MM-DD``), or None
    when it is missing, blank or not a date (say, the field changed type)."""
    value = profile.get(str(field_id))
    match = _CANONICAL_DATE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def anniversary_in(year: int, date: dt.date) -> dt.date:
    """The month and day of ``date`` in ``year``; 29 February falls on
    28 February in a year without one, so it stays in its month."""
    if date.month == 2 and date.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return date.replace(year=year)


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The ``nth`` (1-4, or ``LAST``) ``weekday`` (0 = Monday) of a month."""
    if nth == LAST:
        last_day = dt.date(year, month, calendar.monthrange(year, month)[1])
        return last_day - dt.timedelta(days=(last_day.weekday() - weekday) % 7)
    first_day = dt.date(year, month, 1)
    return first_day + dt.timedelta(days=(weekday - first_day.weekday()) % 7 + 7 * (nth - 1))
