"""A subscription point's figures, for its admin page and the admin's home:
its signups day by day split by outcome, the conversations its contacts
entered, and the signups of today and of the last seven days.

A day is a day of the point's list's time zone, as in the conversation
reports. People and bots are counted apart: a post refused as a bot's (the
honeypot, sent too fast) is no signup of a person. Each figure is one
grouped query, read through the signups' ``(point, created_at)`` index.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from lists.models import List
from signups.models import Signup, SignupOutcome, SubscriptionPoint

#: The outcomes of people, in the order the report shows them.
PEOPLE = (
    SignupOutcome.SUBSCRIBED,
    SignupOutcome.PENDING,
    SignupOutcome.ALREADY_SUBSCRIBED,
    SignupOutcome.RESUBSCRIBED,
    SignupOutcome.KEPT_UNSUBSCRIBED,
    SignupOutcome.REFUSED,
)
#: The posts refused as bots'.
BOTS = (SignupOutcome.HONEYPOT, SignupOutcome.TOO_FAST)
OUTCOMES = PEOPLE + BOTS

#: Short names for the chart's legend and the table's heads.
SHORT: dict[str, str] = {
    SignupOutcome.SUBSCRIBED: "New",
    SignupOutcome.PENDING: "Awaiting confirmation",
    SignupOutcome.ALREADY_SUBSCRIBED: "Already subscribed",
    SignupOutcome.RESUBSCRIBED: "Subscribed again",
    SignupOutcome.KEPT_UNSUBSCRIBED: "Kept unsubscribed",
    SignupOutcome.REFUSED: "Refused",
    SignupOutcome.HONEYPOT: "Bot: hidden field",
    SignupOutcome.TOO_FAST: "Bot: too fast",
}


# --- Day by day ---------------------------------------------------------------


@dataclass
class Day:
    day: datetime.date
    #: Outcome → signups that day; every outcome is there, zero or not.
    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in OUTCOMES})

    @property
    def people(self) -> int:
        return sum(self.counts[o] for o in PEOPLE)

    @property
    def bots(self) -> int:
        return sum(self.counts[o] for o in BOTS)


@dataclass
class Daily:
    """A point's signups per day, days in its list's time zone."""

    zone: str
    #: Every day of the period, oldest first; a day without signups is all zeros.
    days: list[Day]
    #: The period's: outcome → signups.
    totals: dict[str, int]

    @property
    def people(self) -> int:
        return sum(self.totals[o] for o in PEOPLE)

    @property
    def bots(self) -> int:
        return sum(self.totals[o] for o in BOTS)


def daily_signups(
    point: SubscriptionPoint, *, days: int = 30, today: datetime.date | None = None
) -> Daily:
    """The point's signups of each of the last ``days`` days up to ``today``
    (the list's today), by outcome: one grouped query."""
    zone = point.list.zone
    last = today or timezone.localdate(timezone=zone)
    first = last - datetime.timedelta(days=days - 1)
    by_day = {
        first + datetime.timedelta(days=n): Day(first + datetime.timedelta(days=n))
        for n in range(days)
    }
    rows = (
        Signup.objects.filter(
            point=point,
            created_at__gte=_midnight(first, zone),
            created_at__lt=_midnight(last + datetime.timedelta(days=1), zone),
        )
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    totals = {o.value: 0 for o in OUTCOMES}
    for row in rows:
        if row["outcome"] in totals and row["day"] in by_day:
            by_day[row["day"]].counts[row["outcome"]] = row["n"]
            totals[row["outcome"]] += row["n"]
    return Daily(zone=point.list.time_zone, days=list(by_day.values()), totals=totals)


def _midnight(day: datetime.date, zone: datetime.tzinfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=zone)


# --- The conversations its contacts entered -----------------------------------


@dataclass(frozen=True)
class Entered:
    conversation_id: int
    name: str
    #: Distinct contacts who signed up here and entered it at or after signing up.
    contacts: int
    #: Of them, those its trigger on the point's event brought in.
    through_event: int


def conversations_entered(point: SubscriptionPoint) -> list[Entered]:
    """For each conversation that contacts who signed up through ``point``
    entered at or after their signup: how many such contacts (each once),
    and how many of them came in through a trigger on the point's event.
    Most first. One query, from the point's signups to their contacts'
    enrollments."""
    rows = (
        Signup.objects.filter(
            point=point,
            contact__isnull=False,
            contact__enrollments__entered_at__gte=F("created_at"),
        )
        .values(
            conversation=F("contact__enrollments__conversation_id"),
            name=F("contact__enrollments__conversation__name"),
        )
        .annotate(
            contacts=Count("contact_id", distinct=True),
            through_event=Count(
                "contact_id",
                distinct=True,
                filter=Q(contact__enrollments__trigger__event_id=point.event_id)
                if point.event_id
                else Q(pk__in=[]),
            ),
        )
        .order_by("-contacts", "name", "conversation")
    )
    return [
        Entered(row["conversation"], row["name"], row["contacts"], row["through_event"])
        for row in rows
    ]


# --- Today and the last seven days ----------------------------------------------


def _midnights(days_back: int) -> dict[str, datetime.datetime]:
    """Midnight ``days_back`` days before today in each list's time zone, by zone."""
    now = timezone.now()
    midnights = {}
    for name in List.objects.values_list("time_zone", flat=True).distinct().order_by():
        zone = List(time_zone=name).zone
        day = timezone.localdate(now, timezone=zone) - datetime.timedelta(days=days_back)
        midnights[name] = _midnight(day, zone)
    return midnights


def _by_zone(midnights: dict[str, datetime.datetime], zone_lookup: str) -> Case:
    """The midnight of the row's list's time zone (``zone_lookup``)."""
    return Case(
        *(When(**{zone_lookup: name}, then=Value(at)) for name, at in midnights.items()),
        default=Value(timezone.now()),  # a list made since: nothing yet
        output_field=DateTimeField(),
    )


def with_recent_signups(points: QuerySet[SubscriptionPoint]) -> QuerySet[SubscriptionPoint]:
    """``points`` with ``signups_today`` and ``signups_week`` (today and the
    six days before, in each list's time zone): people's signups, not bots'.
    One subquery each, through the signups' ``(point, created_at)`` index."""

    def count(since: str) -> Coalesce:
        per_point = (
            Signup.objects.filter(
                point=OuterRef("pk"), outcome__in=PEOPLE, created_at__gte=OuterRef(since)
            )
            .order_by()
            .values("point")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(per_point, output_field=IntegerField()), Value(0))

    return points.alias(
        since_today=_by_zone(_midnights(0), "list__time_zone"),
        since_week=_by_zone(_midnights(6), "list__time_zone"),
    ).annotate(signups_today=count("since_today"), signups_week=count("since_week"))


@dataclass(frozen=True)
class Today:
    people: int
    bots: int


def signups_today() -> Today:
    """People's signups and bots refused today (each point's list's today),
    on every point: one query. The earliest midnight bounds it, so the
    database reads only recent signups, point by point."""
    midnights = _midnights(0)
    earliest = min(midnights.values(), default=timezone.now())
    counted = (
        Signup.objects.filter(point__in=SubscriptionPoint.objects.all(), created_at__gte=earliest)
        .alias(since=_by_zone(midnights, "point__list__time_zone"))
        .filter(created_at__gte=F("since"))
        .aggregate(
            people=Count("pk", filter=Q(outcome__in=PEOPLE)),
            bots=Count("pk", filter=Q(outcome__in=BOTS)),
        )
    )
    return Today(people=counted["people"] or 0, bots=counted["bots"] or 0)
