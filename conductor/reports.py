"""Conversation reports: the figures of Listrak's ``ConversationSummary``
(SPEC section 4) per message of a conversation, and for the whole of it.

Each figure is one aggregate query over the conversation's deliveries or the
list's email activity (through the ``(list, kind, occurred_at)`` index),
grouped by message; nothing is counted row by row in Python.

- ``sent``: emails that went out; ``delivered``: sent minus the contacts
  whose email bounced.
- ``opened``, ``clicked``, ``bounced``, ``unsubscribed``: contacts (each
  counted once per message) who opened it, clicked one of its links (the
  browser and pass-along links included), whose email bounced, who
  unsubscribed through it (its link, a one-click request, a bounce or a
  complaint).
- ``converted``: purchases credited to it; ``revenue`` their total;
  ``average_order_value`` = revenue / converted.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, FloatField, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from conductor.models import Conversation, Enrollment, Step, StepOutcome, StepRun
from conductor.steps.context import step_label
from conductor.steps.references import MESSAGE, referenced
from conductor.steps.registry import sending_kinds, unit_for
from conductor.steps.unit import unit_of
from conductor.versions import published_version
from contacts.models import Activity, ActivityKind
from emails.models import Delivery, DeliveryStatus

#: Activity kind → the figure counting the contacts it happened to.
CONTACT_FIGURES: dict[str, str] = {
    ActivityKind.EMAIL_OPENED: "opened",
    ActivityKind.EMAIL_CLICKED: "clicked",
    ActivityKind.EMAIL_BOUNCED: "bounced",
    ActivityKind.UNSUBSCRIBED: "unsubscribed",
}


@dataclass
class Summary:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    converted: int = 0
    revenue: float = 0.0

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)

    @property
    def average_order_value(self) -> float:
        return round(self.revenue / self.converted, 2) if self.converted else 0.0

    def add(self, other: Summary) -> None:
        for name in ("sent", "opened", "clicked", "bounced", "unsubscribed", "converted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.revenue = round(self.revenue + other.revenue, 2)


def message_summaries(conversation: Conversation) -> dict[int, Summary]:
    """``{message id: Summary}`` for every message the conversation sent."""
    summaries: dict[int, Summary] = {}
    sent = (
        Delivery.objects.filter(
            step_run__enrollment__conversation=conversation, status=DeliveryStatus.SENT
        )
        .values("message_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for counted in sent:
        summaries.setdefault(counted["message_id"], Summary()).sent = counted["n"]
    activity = (
        Activity.objects.filter(
            list_id=conversation.list_id,
            kind__in=[*CONTACT_FIGURES, ActivityKind.EMAIL_CONVERTED],
            details__conversation_id=conversation.pk,
        )
        .annotate(message=KeyTextTransform("message_id", "details"))
        .values("kind", "message")
        .annotate(
            contacts=Count("contact_id", distinct=True),
            rows=Count("pk"),
            revenue=Sum(Cast(KeyTextTransform("order_total", "details"), FloatField())),
        )
        .order_by()
    )
    for row in activity:
        if row["message"] is None:
            continue
        summary = summaries.setdefault(int(row["message"]), Summary())
        if row["kind"] == ActivityKind.EMAIL_CONVERTED:
            summary.converted = row["rows"]
            summary.revenue = round(row["revenue"] or 0.0, 2)
        else:
            setattr(summary, CONTACT_FIGURES[row["kind"]], row["contacts"])
    return summaries


def conversation_summary(conversation: Conversation) -> Summary:
    """The conversation's figures: the sum over its messages."""
    total = Summary()
    for summary in message_summaries(conversation).values():
        total.add(summary)
    return total


def conversation_messages(conversation: Conversation, *, previous_versions: bool = False):
    """The messages the conversation's sending steps (Message) name: of its
    latest published version, or of every published version."""
    from conductor.models import Step, Version
    from emails.models import Message

    versions = Version.objects.filter(conversation=conversation, published_at__isnull=False)
    if not previous_versions:
        versions = versions.order_by("-number")[:1]
    ids: set[int] = set()
    steps = Step.objects.filter(version__in=list(versions), kind__in=sending_kinds())
    for kind, settings in steps.values_list("kind", "settings"):
        ids.update(referenced(settings, unit_for(kind).references, MESSAGE))
    return Message.objects.filter(pk__in={i for i in ids if isinstance(i, int)})


def link_clicks(conversation: Conversation, message_id: int) -> dict[int, int]:
    """``{link id: clicks}`` of one message of the conversation."""
    rows = (
        Activity.objects.filter(
            list_id=conversation.list_id,
            kind=ActivityKind.EMAIL_CLICKED,
            details__conversation_id=conversation.pk,
            details__message_id=message_id,
        )
        .annotate(link=KeyTextTransform("link_id", "details"))
        .values("link")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {int(row["link"]): row["n"] for row in rows if row["link"] is not None}


# --- The report page's funnel and days ---------------------------------------


@dataclass
class FunnelStep:
    """A step of the main thread and how many contacts passed it."""

    step: Step
    passed: int
    #: The steps that jump to it (a Go To), "step 4" in the main thread:
    #: contacts may arrive here without passing the steps just above.
    reached_from: list[str]


@dataclass
class Funnel:
    entered: int
    steps: list[FunnelStep]
    #: The version whose main thread it follows; None before the first is published.
    version_number: int | None = None


def funnel(conversation: Conversation) -> Funnel:
    """How many contacts entered the conversation and passed each step of
    its latest published version's main thread, in order. A step of an
    earlier version counts as the same step (they share a key). A contact is
    counted once per step, however often a Go To sends it back; one whose
    email was skipped (an unsubscribed address) did not pass its step."""
    entered = Enrollment.objects.filter(conversation=conversation).count()
    version = published_version(conversation)
    if version is None:
        return Funnel(entered=entered, steps=[])
    steps = list(Step.objects.filter(version=version).select_related("thread"))
    main = sorted((s for s in steps if s.thread.is_main), key=lambda s: (s.position, s.pk))
    passed = dict(
        StepRun.objects.filter(
            step__version__conversation=conversation,
            step__version__published_at__isnull=False,
            step__key__in=[step.key for step in main],
            outcome__in=[StepOutcome.PASSED, StepOutcome.TERMINATED],
        )
        .values("step__key")
        .annotate(n=Count("enrollment_id", distinct=True))
        .values_list("step__key", "n")
        .order_by()
    )
    # A main-thread step is named by its place in the funnel, as the report shows it.
    number = {step.pk: n for n, step in enumerate(main, start=1)}
    jumps: dict[str, list[str]] = {}
    for step in steps:
        name = f"step {number[step.pk]}" if step.pk in number else step_label(step)
        for key in unit_of(step).jump_targets(step):
            jumps.setdefault(key, []).append(name)
    return Funnel(
        entered=entered,
        version_number=version.number,
        steps=[
            FunnelStep(step, passed.get(step.key, 0), jumps.get(str(step.key), [])) for step in main
        ],
    )


#: The daily series: the activity kind each counts.
DAILY_KINDS: dict[str, str] = {
    "sent": ActivityKind.EMAIL_SENT,
    "opened": ActivityKind.EMAIL_OPENED,
    "clicked": ActivityKind.EMAIL_CLICKED,
    "converted": ActivityKind.EMAIL_CONVERTED,
}
#: Series that count contacts (each once), not activities.
CONTACT_SERIES = ("opened", "clicked")


@dataclass
class Figures:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    revenue: float = 0.0


@dataclass
class Daily:
    """A conversation's emails day by day, days in its list's time zone."""

    zone: str
    #: ``(day, figures)`` for every day, oldest first; a day with nothing is all zeros.
    days: list[tuple[datetime.date, Figures]]
    #: The whole period's: opened and clicked count each contact once.
    total: Figures


def daily_figures(
    conversation: Conversation, *, days: int = 30, today: datetime.date | None = None
) -> Daily:
    """The conversation's emails per day for the last ``days`` days up to
    ``today`` (the list's today). ``sent``: emails; ``opened`` and
    ``clicked``: contacts who opened or clicked one of its emails that day;
    ``converted``: purchases credited to them, ``revenue`` their total.

    One grouped query per series, through the ``(list, kind, occurred_at)``
    index (the "sent" activity is in no other) or the conversation's own,
    and one for the totals.
    """
    zone = conversation.list.zone
    last = today or timezone.localdate(timezone=zone)
    first = last - datetime.timedelta(days=days - 1)
    by_day = {first + datetime.timedelta(days=n): Figures() for n in range(days)}
    for name, kind in DAILY_KINDS.items():
        per_day = (
            email_activity_between(conversation, [kind], first=first, last=last)
            .annotate(day=TruncDate("occurred_at", tzinfo=zone))
            .values("day")
            .annotate(**_figures(name))
        )
        for row in per_day:
            _fill(by_day[row["day"]], name, row)
    total = Figures()
    per_kind = (
        email_activity_between(conversation, list(DAILY_KINDS.values()), first=first, last=last)
        .values("kind")
        .annotate(rows=Count("pk"), contacts=Count("contact_id", distinct=True), revenue=_revenue())
    )
    for counted in per_kind:
        name = next(name for name, kind in DAILY_KINDS.items() if kind == counted["kind"])
        n = counted["contacts" if name in CONTACT_SERIES else "rows"]
        _fill(total, name, {**counted, "n": n})
    return Daily(zone=conversation.list.time_zone, days=list(by_day.items()), total=total)


def _revenue() -> Sum:
    return Sum(Cast(KeyTextTransform("order_total", "details"), FloatField()))


def _figures(name: str) -> dict[str, Any]:
    if name in CONTACT_SERIES:
        return {"n": Count("contact_id", distinct=True)}
    if name == "converted":
        return {"n": Count("pk"), "revenue": _revenue()}
    return {"n": Count("pk")}


def _fill(figures: Figures, name: str, row: Mapping[str, Any]) -> None:
    setattr(figures, name, row["n"])
    if name == "converted":
        figures.revenue = round(row["revenue"] or 0.0, 2)


def email_activity_between(
    conversation: Conversation, kinds: list[str], *, first: datetime.date, last: datetime.date
) -> QuerySet[Activity]:
    """The conversation's activity of ``kinds`` from day ``first`` to day
    ``last`` (in its list's time zone), with no ordering, ready to group."""
    zone = conversation.list.zone
    start = datetime.datetime.combine(first, datetime.time(), tzinfo=zone)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
    return Activity.objects.filter(
        list_id=conversation.list_id,
        kind__in=kinds,
        occurred_at__gte=start,
        occurred_at__lt=end,
        details__conversation_id=conversation.pk,
    ).order_by()
