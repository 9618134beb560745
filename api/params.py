"""Reading query parameters and enum values the way Listrak's clients send them."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from api.base import parse_id
from api.errors import invalid


class EnumField(serializers.ChoiceField):
    """One of Listrak's enum names, in any case (.NET clients parse them so)."""

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(choices=list(choices), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        wanted = str(data).strip().lower()
        for choice in self.choices:
            if str(choice).lower() == wanted:
                return str(choice)
        raise serializers.ValidationError(
            f"{data!r} is not one of {', '.join(str(c) for c in self.choices)}."
        )


def parse_moment(
    params: Any, name: str, zone: datetime.tzinfo, *, end_of_day: bool
) -> datetime.datetime | None:
    """A date (the whole day counts) or a date and time; without an offset it is
    in the list's time zone, as the Contact resource reads its dates."""
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        # The date first: parse_datetime also takes a bare date, as its midnight.
        day = parse_date(text)
        moment = None if day is not None else parse_datetime(text)
        if moment is None and day is None:
            day = datetime.datetime.strptime(text, "%m/%d/%Y").date()
        if day is not None:
            moment = datetime.datetime.combine(
                day, datetime.time.max if end_of_day else datetime.time()
            )
        assert moment is not None
        aware = moment if timezone.is_aware(moment) else moment.replace(tzinfo=zone)
        return aware.astimezone(datetime.UTC)  # here, not in the query: year 1 may not fit
    except (ValueError, OverflowError):
        raise invalid(
            name,
            f"{name} is a date (YYYY-MM-DD or MM/DD/YYYY) or an ISO 8601 date-time, not {text!r}.",
        ) from None


def parse_period(
    params: Any, zone: datetime.tzinfo
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """``startDate`` (from the start of its day) and ``endDate`` (to the end of
    its day), each None when absent: the bounds of a report, both inclusive."""
    start = parse_moment(params, "startDate", zone, end_of_day=False)
    end = parse_moment(params, "endDate", zone, end_of_day=True)
    return start, end


def parse_ids(params: Any, name: str) -> list[int]:
    """The comma-separated identifiers of ``name``, as given (repeats kept);
    none when absent."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return []
    return [parse_id(part, name) for part in raw.split(",") if part.strip()]
