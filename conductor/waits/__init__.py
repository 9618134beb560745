"""When a contact waiting at a Wait step is released.

A Wait step stores one of four rules as JSON (``rule.to_settings()``) and
reads it back validated (``wait_rule_from_settings``):

- ``Duration``: ``{"kind": "duration", "days": 1, "hours": 0, "minutes": 30}``
- ``FixedDate``: ``{"kind": "fixed_date", "date": "2025-12-24", "time": "09:00"}``
- ``ProfileDate``: ``{"kind": "profile_date", "field_id": 7, "offset_days": -3,
  "time": "09:00"}``
- ``Anniversary``: ``{"kind": "anniversary", "field_id": 7, "mode": "anniversary",
  "next_year_if_passed": true, "offset_days": 0, "time": "09:00"}``, or with
  ``"mode": "nth_weekday", "nth": 2, "weekday": "tuesday"``.

``release_at`` turns a rule into the UTC instant of release. Calendar
arithmetic happens in the list's time zone: a wall time skipped when clocks go
forward means the moment they jump; one repeated when they go back means its
first occurrence; 29 February is 28 February in other years.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from conductor.waits.rules import Anniversary, AnniversaryMode, Duration, FixedDate, ProfileDate

WaitRule = Duration | FixedDate | ProfileDate | Anniversary
RULE_KINDS: dict[str, type[WaitRule]] = {
    rule.kind: rule for rule in (Duration, FixedDate, ProfileDate, Anniversary)
}


def wait_rule_from_settings(data: Mapping[str, Any]) -> WaitRule:
    """The rule stored as ``data``, chosen by its ``kind``; a ValidationError
    names every problem with it."""
    kind = data.get("kind") if isinstance(data, Mapping) else None
    rule = RULE_KINDS.get(kind) if isinstance(kind, str) else None
    if rule is None:
        kinds = ", ".join(repr(kind) for kind in RULE_KINDS)
        raise ValidationError(
            f"Wait: kind must be one of {kinds}, not {kind!r}.", code="invalid_wait_setting"
        )
    return rule.from_settings(data)


def release_at(
    rule: WaitRule, *, entered_at: dt.datetime, zone: ZoneInfo, profile: Mapping[str, str]
) -> dt.datetime | None:
    """The instant (UTC) a contact who entered the step at ``entered_at`` is
    released, computed in the list's ``zone`` from the contact's ``profile``
    (``{str(field id): "YYYY-MM-DD"}``).

    A result at or before ``entered_at`` means "at once" (a date already
    past). None means it cannot be computed: the rule needs a profile date and
    the contact has none. The step should then hold the contact with that
    reason shown and compute again when the profile changes, not release it:
    what follows such a wait is nearly always a message about that date, and
    sent on the wrong day it cannot be taken back, while a held contact is
    visible and recoverable (as with an empty coupon pool).
    """
    if entered_at.utcoffset() is None:
        raise ValueError("entered_at must be an aware datetime.")
    result = rule.release_at(entered_at=entered_at.astimezone(dt.UTC), zone=zone, profile=profile)
    return None if result is None else result.astimezone(dt.UTC)


__all__ = [
    "RULE_KINDS",
    "Anniversary",
    "AnniversaryMode",
    "Duration",
    "FixedDate",
    "ProfileDate",
    "WaitRule",
    "release_at",
    "wait_rule_from_settings",
]
