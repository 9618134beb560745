"""Wait steps: validated settings, and when a waiting contact is released."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from conductor.waits import (
    Anniversary,
    AnniversaryMode,
    Duration,
    FixedDate,
    ProfileDate,
    WaitRule,
    release_at,
    wait_rule_from_settings,
)

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
AUCKLAND = ZoneInfo("Pacific/Auckland")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")
BIRTHDAY = 7  # the id of a Date profile field


def at(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    *,
    fold: int = 0,
) -> dt.datetime:
    """A wall time in ``zone`` as a UTC instant."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone, fold=fold).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def released(
    rule: WaitRule, entered_at: dt.datetime, zone: ZoneInfo, birthday: str | None = None
) -> dt.datetime | None:
    profile = {} if birthday is None else {str(BIRTHDAY): birthday}
    return release_at(rule, entered_at=entered_at, zone=zone, profile=profile)


def birthday_rule(
    *,
    next_year_if_passed: bool = False,
    offset_days: int = 0,
    time: dt.time = dt.time(9),
    nth: int | None = None,
    weekday: int | None = None,
) -> Anniversary:
    mode = AnniversaryMode.ANNIVERSARY if nth is None else AnniversaryMode.NTH_WEEKDAY
    return Anniversary(
        field_id=BIRTHDAY,
        mode=mode,
        next_year_if_passed=next_year_if_passed,
        offset_days=offset_days,
        time=time,
        nth=nth,
        weekday=weekday,
    )


def problems(data: object) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        wait_rule_from_settings(data)  # type: ignore[arg-type]  # malformed on purpose
    return raised.value.messages


# Settings

EVERY_KIND = [
    Duration(days=1, hours=2, minutes=30),
    Duration(minutes=5),
    FixedDate(date=dt.date(2025, 12, 24), time=dt.time(9, 5)),
    ProfileDate(field_id=BIRTHDAY, offset_days=-3, time=dt.time(23, 59)),
    birthday_rule(next_year_if_passed=True, offset_days=-7),
    birthday_rule(nth=2, weekday=1, offset_days=3),
    birthday_rule(nth=-1, weekday=4, next_year_if_passed=True),
]


@pytest.mark.parametrize("rule", EVERY_KIND, ids=repr)
def test_every_kind_round_trips_through_its_json_settings(rule: WaitRule) -> None:
    stored = json.loads(json.dumps(rule.to_settings()))
    assert wait_rule_from_settings(stored) == rule
    assert type(rule).from_settings(stored) == rule


def test_the_settings_of_each_kind_have_the_documented_shape() -> None:
    assert Duration(days=1).to_settings() == {
        "kind": "duration",
        "days": 1,
        "hours": 0,
        "minutes": 0,
    }
    assert FixedDate(date=dt.date(2025, 1, 2), time=dt.time(7)).to_settings() == {
        "kind": "fixed_date",
        "date": "2025-01-02",
        "time": "07:00",
    }
    assert ProfileDate(field_id=3, offset_days=-1, time=dt.time(9, 30)).to_settings() == {
        "kind": "profile_date",
        "field_id": 3,
        "offset_days": -1,
        "time": "09:30",
    }
    assert birthday_rule(nth=2, weekday=1).to_settings() == {
        "kind": "anniversary",
        "field_id": BIRTHDAY,
        "mode": "nth_weekday",
        "nth": 2,
        "weekday": "tuesday",
        "next_year_if_passed": False,
        "offset_days": 0,
        "time": "09:00",
    }


def test_settings_may_leave_out_zeros_and_give_numbers_as_text() -> None:
    assert Duration.from_settings({"hours": "36"}) == Duration(hours=36)
    assert ProfileDate.from_settings({"field_id": "7", "time": "9:00"}) == ProfileDate(
        field_id=7, offset_days=0, time=dt.time(9)
    )


def test_a_bad_duration_names_every_problem() -> None:
    assert problems({"kind": "duration", "days": "x", "hours": -1, "minutes": 1.5}) == [
        "Wait: days must be a whole number from 0 to 3650, not 'x'.",
        "Wait: hours must be a whole number from 0 to 87600, not -1.",
        "Wait: minutes must be a whole number from 0 to 5256000, not 1.5.",
    ]


def test_a_duration_of_nothing_is_refused() -> None:
    assert problems({"kind": "duration", "days": 0}) == [
        "Wait: a duration must be longer than zero; set days, hours or minutes."
    ]


def test_a_fixed_date_must_be_a_real_date_and_time() -> None:
    assert problems({"kind": "fixed_date", "date": "2025-02-29", "time": "9am"}) == [
        "Wait: date must be a date as YYYY-MM-DD from 1900-01-01 to 9998-12-31, not '2025-02-29'.",
        "Wait: time must be a time of day as HH:MM, 00:00 to 23:59, not '9am'.",
    ]
    assert problems({"kind": "fixed_date", "date": "12/24/2025", "time": "24:00"}) == [
        "Wait: date must be a date as YYYY-MM-DD from 1900-01-01 to 9998-12-31, not '12/24/2025'.",
        "Wait: time must be a time of day as HH:MM, 00:00 to 23:59, not '24:00'.",
    ]


def test_missing_and_unknown_settings_are_named() -> None:
    assert problems({"kind": "profile_date", "offset": 3, "field_id": None}) == [
        "Wait: unknown setting 'offset'.",
        "Wait: field_id is required (the id of a Date profile field).",
        "Wait: time is required (a time of day as HH:MM).",
    ]


def test_an_anniversary_names_every_problem() -> None:
    settings = {
        "kind": "anniversary",
        "field_id": 0,
        "mode": "nth_weekday",
        "nth": 5,
        "weekday": "tue",
        "next_year_if_passed": "yes",
        "offset_days": 400,
        "time": "12:60",
    }
    assert problems(settings) == [
        "Wait: field_id must be the id of a Date profile field, not 0.",
        "Wait: nth must be 1, 2, 3, 4 or -1 for the last, not 5.",
        "Wait: weekday must be one of 'monday', 'tuesday', 'wednesday', 'thursday', "
        "'friday', 'saturday', 'sunday', not 'tue'.",
        "Wait: next_year_if_passed must be true or false (a JSON boolean), not 'yes'.",
        "Wait: offset_days must be a whole number from -365 to 365, not 400.",
        "Wait: time must be a time of day as HH:MM, 00:00 to 23:59, not '12:60'.",
    ]


def test_the_nth_weekday_mode_needs_its_nth_and_weekday() -> None:
    settings = {
        "kind": "anniversary",
        "field_id": BIRTHDAY,
        "mode": "nth_weekday",
        "next_year_if_passed": False,
        "time": "09:00",
    }
    assert problems(settings) == [
        "Wait: nth is required (1, 2, 3, 4 or -1 for the last).",
        "Wait: weekday is required (one of 'monday', 'tuesday', 'wednesday', 'thursday', "
        "'friday', 'saturday', 'sunday').",
    ]


def test_nth_and_weekday_are_refused_for_the_plain_anniversary_mode() -> None:
    settings = {
        "kind": "anniversary",
        "field_id": BIRTHDAY,
        "mode": "anniversary",
        "nth": 2,
        "weekday": "tuesday",
        "next_year_if_passed": True,
        "time": "09:00",
    }
    assert problems(settings) == [
        "Wait: nth applies only to mode 'nth_weekday'.",
        "Wait: weekday applies only to mode 'nth_weekday'.",
    ]


def test_an_unknown_mode_is_named() -> None:
    settings = {"kind": "anniversary", "field_id": 1, "mode": "birthday"}
    assert problems(settings)[0] == (
        "Wait: mode must be one of 'anniversary', 'nth_weekday', not 'birthday'."
    )


def test_an_unknown_kind_or_a_non_object_is_refused() -> None:
    assert problems({"kind": "until_payday"}) == [
        "Wait: kind must be one of 'duration', 'fixed_date', 'profile_date', 'anniversary', "
        "not 'until_payday'."
    ]
    assert problems([1, 2]) == [
        "Wait: kind must be one of 'duration', 'fixed_date', 'profile_date', 'anniversary', "
        "not None."
    ]
    with pytest.raises(ValidationError) as raised:
        Duration.from_settings([1, 2])  # type: ignore[arg-type]  # not an object, on purpose
    assert raised.value.messages[0] == "Wait: settings must be an object, not [1, 2]."


def test_one_kinds_settings_are_refused_by_another_kind() -> None:
    with pytest.raises(ValidationError) as raised:
        FixedDate.from_settings(Duration(days=1).to_settings())
    assert raised.value.messages[0] == (
        "Wait: these settings are for kind 'fixed_date', not 'duration'."
    )


# Durations


def test_a_one_day_wait_keeps_the_local_time_across_spring_forward() -> None:
    entered = at(NEW_YORK, 2024, 3, 9, 9)
    later = released(Duration(days=1), entered, NEW_YORK)
    assert later == at(NEW_YORK, 2024, 3, 10, 9)
    assert later - entered == dt.timedelta(hours=23)


def test_a_one_day_wait_keeps_the_local_time_across_fall_back() -> None:
    entered = at(NEW_YORK, 2024, 11, 2, 9)
    later = released(Duration(days=1), entered, NEW_YORK)
    assert later == at(NEW_YORK, 2024, 11, 3, 9)
    assert later - entered == dt.timedelta(hours=25)


def test_a_one_day_wait_keeps_the_local_time_across_both_changes_in_london() -> None:
    spring = at(LONDON, 2024, 3, 30, 9)
    assert released(Duration(days=1), spring, LONDON) == utc(2024, 3, 31, 8)
    autumn = at(LONDON, 2024, 10, 26, 9)
    assert released(Duration(days=1), autumn, LONDON) == utc(2024, 10, 27, 9)


def test_hours_and_minutes_are_elapsed_time_across_a_clock_change() -> None:
    entered = at(NEW_YORK, 2024, 3, 9, 9)
    assert released(Duration(hours=24), entered, NEW_YORK) == at(NEW_YORK, 2024, 3, 10, 10)
    assert released(Duration(minutes=24 * 60), entered, NEW_YORK) == entered + dt.timedelta(1)


def test_days_are_counted_before_hours() -> None:
    entered = at(NEW_YORK, 2024, 3, 9, 9)
    rule = Duration(days=1, hours=2, minutes=15)
    assert released(rule, entered, NEW_YORK) == at(NEW_YORK, 2024, 3, 10, 11, 15)


def test_a_one_day_wait_into_the_skipped_hour_releases_when_the_clocks_jump() -> None:
    entered = at(NEW_YORK, 2024, 3, 9, 2, 30)
    assert released(Duration(days=1), entered, NEW_YORK) == at(NEW_YORK, 2024, 3, 10, 3)


def test_a_wait_entered_in_the_repeated_hour_keeps_which_occurrence_it_was() -> None:
    second_half_past_one = at(NEW_YORK, 2024, 11, 3, 1, 30, fold=1)
    assert second_half_past_one == utc(2024, 11, 3, 6, 30)
    assert released(Duration(hours=1), second_half_past_one, NEW_YORK) == utc(2024, 11, 3, 7, 30)
    assert released(Duration(days=1), second_half_past_one, NEW_YORK) == at(
        NEW_YORK, 2024, 11, 4, 1, 30
    )


def test_a_one_day_wait_far_from_utc_counts_the_local_day() -> None:
    # 13:00 UTC on 30 June is already 01:00 on 1 July in Auckland.
    entered = utc(2024, 6, 30, 13)
    assert released(Duration(days=1), entered, AUCKLAND) == at(AUCKLAND, 2024, 7, 2, 1)
    # New Zealand springs forward at 02:00 on 29 September 2024.
    before_the_change = at(AUCKLAND, 2024, 9, 28, 8)
    assert released(Duration(days=1), before_the_change, AUCKLAND) == utc(2024, 9, 28, 19)


# Fixed dates


def test_a_fixed_date_releases_at_its_local_time() -> None:
    rule = FixedDate(date=dt.date(2025, 12, 24), time=dt.time(9))
    entered = utc(2025, 12, 1)
    assert released(rule, entered, NEW_YORK) == utc(2025, 12, 24, 14)
    assert released(rule, entered, KIRITIMATI) == utc(2025, 12, 23, 19)


def test_a_passed_fixed_date_releases_at_once() -> None:
    rule = FixedDate(date=dt.date(2025, 12, 24), time=dt.time(9))
    entered = utc(2026, 1, 5)
    release = released(rule, entered, NEW_YORK)
    assert release is not None and release <= entered


def test_a_fixed_date_later_today_in_kiritimati_is_not_passed_though_utc_is_a_day_behind() -> None:
    # 12:00 UTC on 31 December is 02:00 on 1 January in Kiritimati (UTC+14).
    entered = utc(2024, 12, 31, 12)
    rule = FixedDate(date=dt.date(2025, 1, 1), time=dt.time(9))
    assert released(rule, entered, KIRITIMATI) == utc(2024, 12, 31, 19)


def test_a_time_inside_the_spring_forward_gap_moves_to_the_end_of_the_gap() -> None:
    new_york = FixedDate(date=dt.date(2024, 3, 10), time=dt.time(2, 30))
    assert released(new_york, utc(2024, 1, 1), NEW_YORK) == utc(2024, 3, 10, 7)  # 03:00 EDT
    london = FixedDate(date=dt.date(2024, 3, 31), time=dt.time(1, 15))
    assert released(london, utc(2024, 1, 1), LONDON) == utc(2024, 3, 31, 1)  # 02:00 BST


def test_an_ambiguous_time_takes_its_first_occurrence() -> None:
    new_york = FixedDate(date=dt.date(2024, 11, 3), time=dt.time(1, 30))
    assert released(new_york, utc(2024, 1, 1), NEW_YORK) == utc(2024, 11, 3, 5, 30)  # EDT
    london = FixedDate(date=dt.date(2024, 10, 27), time=dt.time(1, 30))
    assert released(london, utc(2024, 1, 1), LONDON) == utc(2024, 10, 27, 0, 30)  # BST


def test_a_local_day_skipped_entirely_moves_to_the_next_day() -> None:
    # Kiritimati jumped from UTC-10 to UTC+14 in 1994: 31 December never happened there.
    rule = FixedDate(date=dt.date(1994, 12, 31), time=dt.time(12))
    assert released(rule, utc(1994, 1, 1), KIRITIMATI) == at(KIRITIMATI, 1995, 1, 1, 0)


# Profile dates


def test_a_profile_date_releases_at_its_time_of_day() -> None:
    rule = ProfileDate(field_id=BIRTHDAY, offset_days=0, time=dt.time(9))
    entered = utc(2025, 6, 1)
    assert released(rule, entered, NEW_YORK, "2025-07-04") == utc(2025, 7, 4, 13)


def test_a_profile_date_offset_crosses_month_and_year_ends() -> None:
    entered = utc(2024, 6, 1)
    before = ProfileDate(field_id=BIRTHDAY, offset_days=-5, time=dt.time(9))
    assert released(before, entered, LONDON, "2025-01-02") == utc(2024, 12, 28, 9)
    after = ProfileDate(field_id=BIRTHDAY, offset_days=3, time=dt.time(9))
    assert released(after, entered, LONDON, "2024-06-29") == at(LONDON, 2024, 7, 2, 9)
    assert released(after, entered, LONDON, "2024-02-27") == at(LONDON, 2024, 3, 1, 9)


def test_a_passed_profile_date_releases_at_once() -> None:
    rule = ProfileDate(field_id=BIRTHDAY, offset_days=1, time=dt.time(9))
    entered = utc(2025, 6, 1)
    release = released(rule, entered, NEW_YORK, "2020-01-01")
    assert release is not None and release <= entered


@pytest.mark.parametrize("stored", [None, "", "not a date", "2025-02-30", "20250101"])
def test_without_a_profile_date_the_release_cannot_be_computed(stored: str | None) -> None:
    date_rule = ProfileDate(field_id=BIRTHDAY, offset_days=0, time=dt.time(9))
    assert released(date_rule, utc(2025, 1, 1), NEW_YORK, stored) is None
    assert released(birthday_rule(), utc(2025, 1, 1), NEW_YORK, stored) is None


def test_a_profile_date_at_the_end_of_the_calendar_cannot_be_computed() -> None:
    rule = ProfileDate(field_id=BIRTHDAY, offset_days=10, time=dt.time(9))
    assert released(rule, utc(2025, 1, 1), NEW_YORK, "9999-12-30") is None


# Anniversaries


def test_a_birthday_later_this_year_releases_on_it() -> None:
    entered = at(NEW_YORK, 2025, 3, 1, 12)
    assert released(birthday_rule(), entered, NEW_YORK, "1990-07-15") == at(
        NEW_YORK, 2025, 7, 15, 9
    )


def test_a_passed_birthday_releases_at_once_unless_next_year_is_asked_for() -> None:
    entered = at(NEW_YORK, 2025, 8, 1, 12)
    release = released(birthday_rule(), entered, NEW_YORK, "1990-07-15")
    assert release is not None and release <= entered
    next_year = birthday_rule(next_year_if_passed=True)
    assert released(next_year, entered, NEW_YORK, "1990-07-15") == at(NEW_YORK, 2026, 7, 15, 9)


def test_a_birthday_whose_time_has_passed_today_counts_as_passed() -> None:
    entered = at(NEW_YORK, 2025, 7, 15, 10)
    rule = birthday_rule(next_year_if_passed=True)
    assert released(rule, entered, NEW_YORK, "1990-07-15") == at(NEW_YORK, 2026, 7, 15, 9)
    later_today = birthday_rule(next_year_if_passed=True, time=dt.time(18))
    assert released(later_today, entered, NEW_YORK, "1990-07-15") == at(NEW_YORK, 2025, 7, 15, 18)


def test_29_february_falls_on_28_february_in_a_year_without_one() -> None:
    entered = at(LONDON, 2025, 1, 10, 12)
    assert released(birthday_rule(), entered, LONDON, "2000-02-29") == at(LONDON, 2025, 2, 28, 9)


def test_29_february_stays_on_29_february_in_a_leap_year() -> None:
    entered = at(LONDON, 2024, 1, 10, 12)
    assert released(birthday_rule(), entered, LONDON, "2000-02-29") == at(LONDON, 2024, 2, 29, 9)


def test_a_passed_29_february_moves_to_next_years_own_february_end() -> None:
    rule = birthday_rule(next_year_if_passed=True)
    assert released(rule, at(LONDON, 2023, 3, 1, 12), LONDON, "2000-02-29") == at(
        LONDON, 2024, 2, 29, 9
    )
    assert released(rule, at(LONDON, 2024, 3, 1, 12), LONDON, "2000-02-29") == at(
        LONDON, 2025, 2, 28, 9
    )


def test_an_offset_after_29_february_counts_from_the_28th_in_a_year_without_one() -> None:
    rule = birthday_rule(offset_days=1)
    entered = at(LONDON, 2025, 1, 10, 12)
    assert released(rule, entered, LONDON, "2000-02-29") == at(LONDON, 2025, 3, 1, 9)


def test_the_second_tuesday_of_the_birthday_month() -> None:
    rule = birthday_rule(nth=2, weekday=1)
    entered = at(NEW_YORK, 2025, 1, 1, 12)
    # September 2025 starts on a Monday: its Tuesdays are the 2nd, 9th, 16th...
    assert released(rule, entered, NEW_YORK, "1990-09-28") == at(NEW_YORK, 2025, 9, 9, 9)


def test_the_first_weekday_when_the_month_starts_on_it() -> None:
    rule = birthday_rule(nth=1, weekday=0)
    entered = at(NEW_YORK, 2025, 1, 1, 12)
    assert released(rule, entered, NEW_YORK, "1990-09-28") == at(NEW_YORK, 2025, 9, 1, 9)


def test_the_last_weekday_of_the_birthday_month() -> None:
    entered = at(NEW_YORK, 2025, 1, 1, 12)
    # October 2025 has five Fridays (3rd to 31st), February 2025 only four.
    last_friday = birthday_rule(nth=-1, weekday=4)
    assert released(last_friday, entered, NEW_YORK, "1990-10-02") == at(NEW_YORK, 2025, 10, 31, 9)
    assert released(last_friday, entered, NEW_YORK, "1990-02-02") == at(NEW_YORK, 2025, 2, 28, 9)
    last_saturday = birthday_rule(nth=-1, weekday=5)
    assert released(last_saturday, entered, NEW_YORK, "1990-02-02") == at(NEW_YORK, 2025, 2, 22, 9)


def test_the_fourth_weekday_of_a_month_with_five_of_them() -> None:
    rule = birthday_rule(nth=4, weekday=4)
    entered = at(NEW_YORK, 2025, 1, 1, 12)
    assert released(rule, entered, NEW_YORK, "1990-10-02") == at(NEW_YORK, 2025, 10, 24, 9)


def test_a_passed_nth_weekday_moves_to_next_years_nth_weekday() -> None:
    rule = birthday_rule(nth=2, weekday=1, next_year_if_passed=True)
    entered = at(NEW_YORK, 2025, 9, 20, 12)
    # September 2026 starts on a Tuesday.
    assert released(rule, entered, NEW_YORK, "1990-09-28") == at(NEW_YORK, 2026, 9, 8, 9)


def test_an_anniversary_offset_crosses_a_month_end() -> None:
    rule = birthday_rule(offset_days=-3)
    entered = at(NEW_YORK, 2025, 1, 1, 12)
    assert released(rule, entered, NEW_YORK, "1990-03-01") == at(NEW_YORK, 2025, 2, 26, 9)


def test_an_offset_after_a_december_birthday_releases_in_the_new_year() -> None:
    rule = birthday_rule(offset_days=5)
    entered = at(NEW_YORK, 2025, 12, 1, 12)
    assert released(rule, entered, NEW_YORK, "1990-12-30") == at(NEW_YORK, 2026, 1, 4, 9)


def test_an_offset_before_a_january_birthday_can_skip_to_the_year_after_next() -> None:
    # Entered 30 December: this year's "5 days before 2 January" was last
    # December, next year's was two days ago; the next one ahead is in 2025.
    rule = birthday_rule(offset_days=-5, next_year_if_passed=True)
    entered = at(NEW_YORK, 2024, 12, 30, 12)
    assert released(rule, entered, NEW_YORK, "1990-01-02") == at(NEW_YORK, 2025, 12, 28, 9)
    at_once = birthday_rule(offset_days=-5)
    release = released(at_once, entered, NEW_YORK, "1990-01-02")
    assert release is not None and release <= entered


def test_the_anniversary_year_is_the_lists_local_year_at_entry() -> None:
    # 12:00 UTC on 31 December 2024 is 02:00 on 1 January 2025 in Kiritimati:
    # this year's birthday is today, later, not last year's long passed.
    entered = utc(2024, 12, 31, 12)
    assert released(birthday_rule(), entered, KIRITIMATI, "1990-01-01") == utc(2024, 12, 31, 19)
    # 05:00 UTC on 1 January 2025 is still 19:00 on 31 December in Honolulu.
    honolulu = ZoneInfo("Pacific/Honolulu")
    late_birthday = birthday_rule(time=dt.time(21))
    assert released(late_birthday, utc(2025, 1, 1, 5), honolulu, "1990-12-31") == utc(2025, 1, 1, 7)


def test_an_anniversary_in_auckland_counts_the_local_date() -> None:
    # 20:00 UTC on 14 July is 08:00 on 15 July in Auckland: the 09:00 birthday is still ahead.
    entered = utc(2025, 7, 14, 20)
    rule = birthday_rule(next_year_if_passed=True)
    assert released(rule, entered, AUCKLAND, "1990-07-15") == utc(2025, 7, 14, 21)


def test_an_anniversary_time_inside_the_gap_moves_to_the_end_of_the_gap() -> None:
    rule = birthday_rule(time=dt.time(2, 30))
    entered = at(NEW_YORK, 2024, 1, 1, 12)
    assert released(rule, entered, NEW_YORK, "1990-03-10") == utc(2024, 3, 10, 7)


# The release_at function itself


def test_the_release_is_in_utc_whatever_zone_the_entry_time_is_given_in() -> None:
    entered_in_tokyo = dt.datetime(2024, 3, 10, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    release = released(Duration(hours=1), entered_in_tokyo, NEW_YORK)
    assert release == utc(2024, 3, 10, 1)
    assert release is not None and release.tzinfo is UTC


def test_a_naive_entry_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        released(Duration(days=1), dt.datetime(2024, 1, 1), NEW_YORK)
