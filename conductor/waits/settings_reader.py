"""Reading a Wait step's JSON settings, naming every problem at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

from django.core.exceptions import ValidationError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]+$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
T = TypeVar("T")


class SettingsReader:
    """Reads the settings of one kind of wait.

    Each reader method records a problem and returns a placeholder instead of
    raising, so one ``finish()`` names every problem in one ValidationError;
    ``from_settings`` calls it before the placeholders could be used.
    """

    def __init__(self, data: object, *, kind: str, keys: Iterable[str]) -> None:
        self.problems: list[str] = []
        self.data: Mapping[str, object] = data if isinstance(data, Mapping) else {}
        if not isinstance(data, Mapping):
            self.problem(f"settings must be an object, not {data!r}")
        given_kind = self.data.get("kind", kind)
        if given_kind != kind:
            self.problem(f"these settings are for kind {kind!r}, not {given_kind!r}")
        # An unknown key is most likely a misspelt one whose value would be lost.
        known = {"kind", *keys}
        for key in sorted(str(key) for key in self.data if key not in known):
            self.problem(f"unknown setting {key!r}")

    @property
    def ok(self) -> bool:
        """Whether every value read so far was valid (cross-field checks need it)."""
        return not self.problems

    def problem(self, message: str) -> None:
        self.problems.append(f"Wait: {message}.")

    def finish(self) -> None:
        """Raise one ValidationError naming every problem, if there were any."""
        if self.problems:
            raise ValidationError(
                [ValidationError(message, code="invalid_wait_setting") for message in self.problems]
            )

    def whole_number(
        self,
        key: str,
        *,
        low: int,
        high: int,
        default: int | None = None,
        described: str | None = None,
    ) -> int:
        """An integer from ``low`` to ``high`` (``default`` when absent)."""
        described = described or f"a whole number from {low} to {high}"
        value = self.data.get(key)
        if value is None:
            value = default  # JSON null counts as absent
        if value is None:
            return self._missing(key, described, 0)
        number = _as_int(value)
        if number is None or not low <= number <= high:
            self.problem(f"{key} must be {described}, not {value!r}")
            return 0
        return number

    def one_of_numbers(self, key: str, allowed: tuple[int, ...], described: str) -> int:
        """One of the integers ``allowed``, e.g. ``(1, 2, 3, 4, -1)``."""
        value = self.data.get(key)
        if value is None:
            return self._missing(key, described, allowed[0])
        number = _as_int(value)
        if number is None or number not in allowed:
            self.problem(f"{key} must be {described}, not {value!r}")
            return allowed[0]
        return number

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if value is None:
            return self._missing(key, "true or false", False)
        if not isinstance(value, bool):
            self.problem(f"{key} must be true or false (a JSON boolean), not {value!r}")
            return False
        return value

    def date(self, key: str, *, low: dt.date, high: dt.date) -> dt.date:
        value = self.data.get(key)
        if value is None:
            return self._missing(key, "a date as YYYY-MM-DD", low)
        day: dt.date | None = None
        if isinstance(value, str) and (match := _DATE.match(value)):
            try:
                day = dt.date(*(int(part) for part in match.groups()))
            except ValueError:
                day = None
        if day is None or not low <= day <= high:
            self.problem(
                f"{key} must be a date as YYYY-MM-DD from {low.isoformat()} "
                f"to {high.isoformat()}, not {value!r}"
            )
            return low
        return day

    def time_of_day(self, key: str) -> dt.time:
        value = self.data.get(key)
        if value is None:
            return self._missing(key, "a time of day as HH:MM", dt.time())
        if not isinstance(value, str) or not (match := _TIME.match(value)):
            self.problem(f"{key} must be a time of day as HH:MM, 00:00 to 23:59, not {value!r}")
            return dt.time()
        return dt.time(int(match[1]), int(match[2]))

    def choice(self, key: str, choices: Iterable[str], *, required: bool = True) -> str | None:
        """One of ``choices``; None when absent and not ``required``."""
        value = self.data.get(key)
        allowed = tuple(choices)
        if value is None and not required:
            return None
        if value is None:
            return self._missing(key, f"one of {_listing(allowed)}", None)
        if value not in allowed:
            self.problem(f"{key} must be one of {_listing(allowed)}, not {value!r}")
            return None
        return str(value)

    def _missing(self, key: str, expected: str, placeholder: T) -> T:
        self.problem(f"{key} is required ({expected})")
        return placeholder


def _as_int(value: object) -> int | None:
    # A string of digits is accepted: HTML forms post numbers as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.match(value.strip()):
        return int(value.strip())
    return None


def _listing(choices: tuple[str, ...]) -> str:
    return ", ".join(repr(choice) for choice in choices)
