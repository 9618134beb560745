"""Each message's rates beside its counts, for the conversation's report
(``conductor.report_charts``): which figure is a share of what, and the
rows of the report's per-message table. The counts are
``conductor.reports.message_summaries``' and keep their meaning (the API
reports them too); only the rates are worked out here."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from conductor.models import Conversation, Step
from conductor.reports import Summary, message_summaries
from conductor.steps.references import MESSAGE, referenced
from conductor.steps.registry import sending_kinds, unit_for
from conductor.versions import published_version
from emails.models import Message


@dataclass(frozen=True)
class Rate:
    figure: str  # the ``Summary`` attribute counted
    label: str
    of: str  # what it is a share of: "delivered" or "sent"
    meaning: str


RATES = [
    Rate("opened", "Opened", "delivered", "contacts who opened it"),
    Rate("clicked", "Clicked", "delivered", "contacts who clicked one of its links"),
    Rate("bounced", "Bounced", "sent", "contacts whose email bounced"),
    Rate("unsubscribed", "Unsubscribed", "delivered", "contacts who unsubscribed through it"),
    Rate("converted", "Converted", "delivered", "purchases credited to it"),
]


def rates_legend() -> str:
    """Which rate is a share of what: "Opened, … and converted are shares of delivered
    emails; bounced is a share of sent emails." """
    groups: dict[str, list[str]] = {}
    for rate in RATES:
        groups.setdefault(rate.of, []).append(rate.label.lower())
    said = []
    for of, labels in groups.items():
        names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        verb = "is a share" if len(labels) == 1 else "are shares"
        said.append(f"{names} {verb} of {of} emails")
    return "Rates: " + "; ".join(said) + "."


def share(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide by."""
    return part / whole if whole else None


def percent(value: float | None, *, decimals: int = 1) -> str:
    return "—" if value is None else f"{value:.{decimals}%}"


def money(value: float) -> str:
    return f"{value:,.2f}"


@dataclass
class RateCell:
    figure: str
    count: int
    rate: str
    title: str


@dataclass
class MessageRow:
    name: str
    url: str | None
    sent: int
    delivered: int
    rates: list[RateCell]
    revenue: str
    average_order: str


def message_row(name: str, url: str | None, summary: Summary) -> MessageRow:
    cells = []
    for rate in RATES:
        count, whole = getattr(summary, rate.figure), getattr(summary, rate.of)
        title = (
            f"{count} of {whole} {rate.of}"
            if whole
            else f"No email {rate.of} yet: no rate to give."
        )
        cells.append(RateCell(rate.figure, count, percent(share(count, whole)), title))
    return MessageRow(
        name=name,
        url=url,
        sent=summary.sent,
        delivered=summary.delivered,
        rates=cells,
        revenue=money(summary.revenue),
        average_order=money(summary.average_order_value),
    )


def message_rows(conversation: Conversation) -> list[MessageRow]:
    """A row per message the conversation sent, in the order its latest
    version sends them, then "All messages"; none when nothing was sent."""
    summaries = message_summaries(conversation)
    if not summaries:
        return []
    order = {pk: n for n, pk in enumerate(_sending_order(conversation))}
    names = dict(Message.objects.filter(pk__in=summaries).values_list("pk", "name"))
    rows, total = [], Summary()
    for pk in sorted(summaries, key=lambda pk: (order.get(pk, len(order)), pk)):
        total.add(summaries[pk])
        name = names.get(pk)
        url = reverse("admin:emails_message_change", args=[pk]) if name else None
        rows.append(message_row(name or f"Message {pk} (deleted)", url, summaries[pk]))
    rows.append(message_row("All messages", None, total))
    return rows


def _sending_order(conversation: Conversation) -> list[int]:
    """Message ids as the latest published version sends them: main thread first."""
    version = published_version(conversation)
    if version is None:
        return []
    steps = Step.objects.filter(version=version, kind__in=sending_kinds()).order_by(
        "-thread__is_main", "thread__position", "thread_id", "position", "pk"
    )
    ids: list[int] = []
    for kind, settings in steps.values_list("kind", "settings"):
        found = referenced(settings, unit_for(kind).references, MESSAGE)
        ids += [pk for pk in found if isinstance(pk, int) and pk not in ids]
    return ids
