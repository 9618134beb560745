"""The four kinds of wait rule: their settings, and when each releases a contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

from conductor.waits.calendar_rules import (
    LAST,
    add_calendar_days,
    anniversary_in,
    local_instant,
    nth_weekday,
    profile_date,
)
from conductor.waits.settings_reader import WEEKDAYS, SettingsReader

TEN_YEARS_OF_DAYS = 3650
MAX_FIELD_ID = 2**63 - 1  # a BigAutoField
# Up to 9998: a late time on 9999-12-31 west of Greenwich is past datetime's range in UTC.
EARLIEST_FIXED_DATE, LATEST_FIXED_DATE = dt.date(1900, 1, 1), dt.date(9998, 12, 31)
# More than a year either way would reach a different year's anniversary.
MAX_ANNIVERSARY_OFFSET = 365
FIELD_ID_DESCRIBED = "the id of a Date profile field"
NTH_CHOICES = (1, 2, 3, 4, LAST)
NTH_DESCRIBED = "1, 2, 3, 4 or -1 for the last"
ANNIVERSARY_KEYS = (
    "field_id", "mode", "nth", "weekday", "next_year_if_passed", "offset_days", "time"
)  # fmt: skip

Settings = dict[str, Any]


@dataclass(frozen=True)
class Duration:
    """Wait ``days`` calendar days in the list's zone (09:00 stays 09:00
    across a clock change), then ``hours`` and ``minutes`` of elapsed time."""

    kind: ClassVar[str] = "duration"
    days: int = 0
    hours: int = 0
    minutes: int = 0

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Self:
        """Validated from ``{"days": 1, "hours": 0, "minutes": 30}``; each may be
        left out (0), up to ten years' worth, and not all 0."""
        read = SettingsReader(data, kind=cls.kind, keys=("days", "hours", "minutes"))
        days = read.whole_number("days", low=0, high=TEN_YEARS_OF_DAYS, default=0)
        hours = read.whole_number("hours", low=0, high=TEN_YEARS_OF_DAYS * 24, default=0)
        minutes = read.whole_number("minutes", low=0, high=TEN_YEARS_OF_DAYS * 1440, default=0)
        if read.ok and days == hours == minutes == 0:
            read.problem("a duration must be longer than zero; set days, hours or minutes")
        read.finish()
        return cls(days=days, hours=hours, minutes=minutes)

    def to_settings(self) -> Settings:
        """The JSON form ``from_settings`` reads back."""
        return {"kind": self.kind, "days": self.days, "hours": self.hours, "minutes": self.minutes}

    def release_at(
        self, *, entered_at: dt.datetime, zone: ZoneInfo, profile: Mapping[str, str]
    ) -> dt.datetime | None:
        """Calendar days first, then the elapsed hours and minutes."""
        after_days = add_calendar_days(entered_at, self.days, zone)
        return after_days + dt.timedelta(hours=self.hours, minutes=self.minutes)


@dataclass(frozen=True)
class FixedDate:
    """Wait until a date and time of day in the list's zone."""

    kind: ClassVar[str] = "fixed_date"
    date: dt.date
    time: dt.time

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Self:
        """Validated from ``{"date": "2025-12-24", "time": "09:00"}``."""
        read = SettingsReader(data, kind=cls.kind, keys=("date", "time"))
        date = read.date("date", low=EARLIEST_FIXED_DATE, high=LATEST_FIXED_DATE)
        time = read.time_of_day("time")
        read.finish()
        return cls(date=date, time=time)

    def to_settings(self) -> Settings:
        """The JSON form ``from_settings`` reads back."""
        return {"kind": self.kind, "date": self.date.isoformat(), "time": _hhmm(self.time)}

    def release_at(
        self, *, entered_at: dt.datetime, zone: ZoneInfo, profile: Mapping[str, str]
    ) -> dt.datetime | None:
        """The date and time; one already past is returned as it is."""
        return local_instant(self.date, self.time, zone)


@dataclass(frozen=True)
class ProfileDate:
    """Wait until the date in a Date profile field, ``offset_days`` later
    (earlier when negative), at a time of day in the list's zone."""

    kind: ClassVar[str] = "profile_date"
    field_id: int
    offset_days: int
    time: dt.time

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Self:
        """Validated from ``{"field_id": 7, "offset_days": -3, "time": "09:00"}``;
        offset_days may be left out (0). That the field is a Date field of the
        step's list is for the step to check: this module has no database."""
        read = SettingsReader(data, kind=cls.kind, keys=("field_id", "offset_days", "time"))
        field_id = read.whole_number(
            "field_id", low=1, high=MAX_FIELD_ID, described=FIELD_ID_DESCRIBED
        )
        offset_days = read.whole_number(
            "offset_days", low=-TEN_YEARS_OF_DAYS, high=TEN_YEARS_OF_DAYS, default=0
        )
        time = read.time_of_day("time")
        read.finish()
        return cls(field_id=field_id, offset_days=offset_days, time=time)

    def to_settings(self) -> Settings:
        """The JSON form ``from_settings`` reads back."""
        return {
            "kind": self.kind,
            "field_id": self.field_id,
            "offset_days": self.offset_days,
            "time": _hhmm(self.time),
        }

    def release_at(
        self, *, entered_at: dt.datetime, zone: ZoneInfo, profile: Mapping[str, str]
    ) -> dt.datetime | None:
        """The profile date plus the offset, at the time; None without a date."""
        date = profile_date(profile, self.field_id)
        if date is None:
            return None
        try:
            return local_instant(date + dt.timedelta(days=self.offset_days), self.time, zone)
        except OverflowError:  # a date near year 1 or 9999: no real release
            return None


class AnniversaryMode(StrEnum):
    ANNIVERSARY = "anniversary"  # the month and day of the profile date
    NTH_WEEKDAY = "nth_weekday"  # the nth weekday of the profile date's month


@dataclass(frozen=True)
class Anniversary:
    """Listrak's advanced rule: wait until this year's recurrence of a Date
    profile field (say, a birthday), ``offset_days`` later, at ``time``.

    "This year" is the year of step entry in the list's zone. The recurrence
    is the profile date's month and day (``ANNIVERSARY``; 29 February is
    28 February in other years) or the ``nth`` ``weekday`` (0 = Monday) of its
    month (``NTH_WEEKDAY``; ``nth`` -1 is the last). An offset may carry the
    release into a neighbouring year; it is still this year's anniversary.
    When the release is already past at entry, ``next_year_if_passed`` takes
    the next year's instead (so the release is always ahead); without it, the
    contact is released at once.
    """

    kind: ClassVar[str] = "anniversary"
    field_id: int
    mode: AnniversaryMode
    next_year_if_passed: bool
    offset_days: int
    time: dt.time
    nth: int | None = None
    weekday: int | None = None

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Self:
        """Validated from ``{"field_id": 7, "mode": "nth_weekday", "nth": 2,
        "weekday": "tuesday", "next_year_if_passed": true, "offset_days": 0,
        "time": "09:00"}``; ``nth`` and ``weekday`` belong to ``nth_weekday``
        only, and offset_days (-365 to 365) may be left out (0)."""
        read = SettingsReader(data, kind=cls.kind, keys=ANNIVERSARY_KEYS)
        field_id = read.whole_number(
            "field_id", low=1, high=MAX_FIELD_ID, described=FIELD_ID_DESCRIBED
        )
        mode = read.choice("mode", [mode.value for mode in AnniversaryMode])
        nth = weekday = None
        if mode == AnniversaryMode.NTH_WEEKDAY:
            nth = read.one_of_numbers("nth", NTH_CHOICES, NTH_DESCRIBED)
            day_name = read.choice("weekday", WEEKDAYS)
            weekday = WEEKDAYS.index(day_name) if day_name else 0
        elif mode == AnniversaryMode.ANNIVERSARY:
            for key in ("nth", "weekday"):
                if read.data.get(key) is not None:
                    read.problem(f"{key} applies only to mode 'nth_weekday'")
        next_year_if_passed = read.boolean("next_year_if_passed")
        offset_days = read.whole_number(
            "offset_days", low=-MAX_ANNIVERSARY_OFFSET, high=MAX_ANNIVERSARY_OFFSET, default=0
        )
        time = read.time_of_day("time")
        read.finish()
        assert mode is not None  # a missing or unknown mode was a problem: finish() raised
        return cls(
            field_id=field_id,
            mode=AnniversaryMode(mode),
            next_year_if_passed=next_year_if_passed,
            offset_days=offset_days,
            time=time,
            nth=nth,
            weekday=weekday,
        )

    def to_settings(self) -> Settings:
        """The JSON form ``from_settings`` reads back."""
        settings: Settings = {
            "kind": self.kind,
            "field_id": self.field_id,
            "mode": self.mode.value,
            "next_year_if_passed": self.next_year_if_passed,
            "offset_days": self.offset_days,
            "time": _hhmm(self.time),
        }
        if self.mode == AnniversaryMode.NTH_WEEKDAY:
            assert self.nth is not None and self.weekday is not None
            settings |= {"nth": self.nth, "weekday": WEEKDAYS[self.weekday]}
        return settings

    def release_at(
        self, *, entered_at: dt.datetime, zone: ZoneInfo, profile: Mapping[str, str]
    ) -> dt.datetime | None:
        """This year's release, or the first one ahead if ``next_year_if_passed``;
        None without a date."""
        date = profile_date(profile, self.field_id)
        if date is None:
            return None
        this_year = entered_at.astimezone(zone).year
        try:
            release = self._release_in(this_year, date, zone)
            # Two more years at most: with an offset of up to -365 days, next
            # year's release can be past too (entry 30 Dec, 2 Jan minus 5 days).
            for year in (this_year + 1, this_year + 2):
                if not self.next_year_if_passed or release >= entered_at:
                    break
                release = self._release_in(year, date, zone)
        except (OverflowError, ValueError):  # a profile date or entry near year 1 or 9999
            return None
        return release

    def _release_in(self, year: int, date: dt.date, zone: ZoneInfo) -> dt.datetime:
        if self.mode == AnniversaryMode.NTH_WEEKDAY:
            assert self.nth is not None and self.weekday is not None
            day = nth_weekday(year, date.month, self.weekday, self.nth)
        else:
            day = anniversary_in(year, date)
        return local_instant(day + dt.timedelta(days=self.offset_days), self.time, zone)


def _hhmm(time: dt.time) -> str:
    return time.strftime("%H:%M")
