"""What the admin shows of a broadcast once it has started: its progress
(recipients chosen, sent, waiting, not sent with the top reasons, uncertain,
the sending rate), its report (``broadcasts.reports``' figures with their
rates, and each link's clicks), and the figures of a page of the broadcast
list. Reads only: each is a few aggregate queries over the broadcast's own
deliveries (the deliveries' source key) and activity (``activity_broadcast``)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from broadcasts.admin_display import BROADCAST_MEANINGS, count, duration, when
from broadcasts.audiences import broadcast_type
from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.reports import deliveries, link_clicks, summary
from broadcasts.sending import UNSENT
from conductor.report_rates import MessageRow, message_row, money, rates_legend
from conductor.reports import Summary
from contacts.models import Activity, ActivityKind
from emails.admin_views import deliveries_url
from emails.models import Delivery, DeliveryStatus, MessageLink

#: The sending rate is of the emails sent in this last stretch of time.
RATE_WINDOW = datetime.timedelta(minutes=5)
#: How many reasons for emails not sent the progress names.
TOP_REASONS = 3
#: How often the page asks again while a broadcast sends, in seconds.
REFRESH_SECONDS = 3


def is_due(broadcast: Broadcast, now: datetime.datetime | None = None) -> bool:
    """Scheduled and its time has come: a worker starts it any moment."""
    now = now or timezone.now()
    return (
        broadcast.status == BroadcastStatus.SCHEDULED
        and broadcast.send_at is not None
        and broadcast.send_at <= now
    )


def watched(broadcast: Broadcast) -> bool:
    """Whether its page follows it as it changes: starting or sending."""
    return broadcast.status == BroadcastStatus.SENDING or is_due(broadcast)


# --- Progress -----------------------------------------------------------------


@dataclass
class Progress:
    status: str
    meaning: str
    recipients: int
    chosen_all: bool
    sent: int
    waiting: int
    skipped: int
    uncertain: int
    reasons: list[tuple[str, str]]  # (why, how many emails: "1,204")
    rate: str
    started: str
    finished: str
    time_left: str
    skipped_url: str
    uncertain_url: str
    all_url: str
    refresh_seconds: int

    @property
    def shown(self) -> dict[str, str]:
        """The figures as the page writes them: "8,000"."""
        names = ("recipients", "sent", "waiting", "skipped", "uncertain")
        return {name: f"{getattr(self, name):,}" for name in names}

    @property
    def ended(self) -> int:
        """Emails that will not change any more: sent, not sent or uncertain."""
        return self.sent + self.skipped + self.uncertain


def progress(broadcast: Broadcast, now: datetime.datetime | None = None) -> Progress:
    """How far ``broadcast`` has got, counted now."""
    now = now or timezone.now()
    since = max(now - RATE_WINDOW, broadcast.started_at or now)
    counted = deliveries(broadcast).aggregate(
        sent=Count("pk", filter=Q(status=DeliveryStatus.SENT)),
        waiting=Count("pk", filter=Q(status__in=UNSENT)),
        skipped=Count("pk", filter=Q(status=DeliveryStatus.SKIPPED)),
        uncertain=Count("pk", filter=Q(status=DeliveryStatus.UNCERTAIN)),
        recent=Count("pk", filter=Q(status=DeliveryStatus.SENT, sent_at__gte=since)),
    )
    reasons: list[tuple[str, str]] = []
    if counted["skipped"]:
        rows = (
            deliveries(broadcast)
            .filter(status=DeliveryStatus.SKIPPED)
            .values("error")
            .annotate(n=Count("pk"))
            .order_by("-n", "error")[:TOP_REASONS]
        )
        reasons = [(row["error"] or "No reason recorded.", f"{row['n']:,}") for row in rows]
    per_minute = _per_minute(counted["recent"], now - since)
    return Progress(
        status=broadcast.status,
        meaning=meaning(broadcast),
        recipients=broadcast.recipients,
        chosen_all=broadcast.chosen_all,
        sent=counted["sent"],
        waiting=counted["waiting"],
        skipped=counted["skipped"],
        uncertain=counted["uncertain"],
        reasons=reasons,
        rate=_rate_words(broadcast, per_minute, counted["sent"]),
        started=when(broadcast.started_at, broadcast.list) if broadcast.started_at else "",
        finished=_finished(broadcast),
        time_left=_time_left(broadcast, per_minute, counted["waiting"]),
        skipped_url=_deliveries(broadcast, DeliveryStatus.SKIPPED),
        uncertain_url=_deliveries(broadcast, DeliveryStatus.UNCERTAIN),
        all_url=_deliveries(broadcast),
        refresh_seconds=REFRESH_SECONDS if watched(broadcast) else 0,
    )


def meaning(broadcast: Broadcast) -> str:
    """What its status means now, in words."""
    if is_due(broadcast):
        return "Its send time has come: a worker starts it in a moment."
    if broadcast.status == BroadcastStatus.SCHEDULED:
        return f"Sends {when(broadcast.send_at, broadcast.list)}."
    if broadcast.status == BroadcastStatus.CANCELLED and broadcast.error:
        return broadcast.error  # stopped by itself: why, and what to do
    if broadcast.status == BroadcastStatus.CANCELLED and broadcast.cancelled_at:
        at = when(broadcast.cancelled_at, broadcast.list)
        return f"{at}: no email that was still waiting was sent."
    if broadcast.status == BroadcastStatus.DRAFT and broadcast.split_test_id is not None:
        return "A group of its split test: it is sent when the split test is."
    return BROADCAST_MEANINGS[BroadcastStatus(broadcast.status)]


def _per_minute(sent: int, span: datetime.timedelta) -> float | None:
    seconds = span.total_seconds()
    return sent * 60 / seconds if seconds >= 10 else None


def _rate_words(broadcast: Broadcast, per_minute: float | None, sent: int) -> str:
    if broadcast.status == BroadcastStatus.SENDING:
        if per_minute is None:
            return "Just started: the rate shows after a few seconds."
        window = min(RATE_WINDOW, timezone.now() - (broadcast.started_at or timezone.now()))
        return f"{count(round(per_minute), 'email')} a minute over the last {duration(window)}"
    if broadcast.started_at and broadcast.finished_at and sent:
        took = broadcast.finished_at - broadcast.started_at
        minutes = took.total_seconds() / 60
        average = (
            f" (about {count(round(sent / minutes), 'email')} a minute)" if minutes >= 1 else ""
        )
        return f"Sent in {duration(took)}{average}"
    return ""


def _finished(broadcast: Broadcast) -> str:
    if broadcast.finished_at:
        return when(broadcast.finished_at, broadcast.list)
    if broadcast.cancelled_at and broadcast.started_at:
        return when(broadcast.cancelled_at, broadcast.list) + " (cancelled)"
    return ""


def _time_left(broadcast: Broadcast, per_minute: float | None, waiting: int) -> str:
    if broadcast.status != BroadcastStatus.SENDING or not per_minute or not waiting:
        return ""
    left = datetime.timedelta(minutes=waiting / per_minute)
    more = "" if broadcast.chosen_all else ", and more recipients are still being chosen"
    return f"About {duration(left)} left at this rate{more}."


def _deliveries(broadcast: Broadcast, status: str = "") -> str:
    if status:
        return deliveries_url(broadcast=broadcast.pk, status__exact=status)
    return deliveries_url(broadcast=broadcast.pk)


# --- Report -------------------------------------------------------------------


@dataclass
class LinkRow:
    url: str
    clicks: str
    share: str
    width: int


@dataclass
class Report:
    figures: Summary
    row: MessageRow
    cards: list[tuple[str, str, str, str]]
    links: list[LinkRow]
    total_clicks: str
    legend: str = field(default_factory=rates_legend)


def report(broadcast: Broadcast) -> Report:
    """The broadcast's figures with their rates, and each link's clicks."""
    figures = summary(broadcast)
    row = message_row(broadcast.name, None, figures)
    rates = {cell.figure: cell for cell in row.rates}
    cards = [
        ("sent", "Sent", f"{figures.sent:,}", f"{figures.delivered:,} delivered"),
        *(
            (name, label, rates[name].rate, rates[name].title)
            for name, label in (
                ("opened", "Opened"),
                ("clicked", "Clicked"),
                ("bounced", "Bounced"),
                ("unsubscribed", "Unsubscribed"),
            )
        ),
        ("converted", "Conversions", f"{figures.converted:,}", "purchases credited to it"),
        (
            "revenue",
            "Revenue",
            money(figures.revenue),
            f"average order {money(figures.average_order_value)}",
        ),
    ]
    clicks = link_clicks(broadcast)
    urls = dict(
        MessageLink.objects.filter(
            Q(pk__in=list(clicks)) | Q(message_id=broadcast.message_id)
        ).values_list("pk", "url")
    )
    total = sum(clicks.values())
    most = max(clicks.values(), default=0)
    links = [
        LinkRow(
            url=url,
            clicks=f"{clicks.get(pk, 0):,}",
            share=f"{clicks.get(pk, 0) / total:.0%}" if total else "—",
            width=round(100 * clicks.get(pk, 0) / most) if most else 0,
        )
        for pk, url in sorted(urls.items(), key=lambda item: (-clicks.get(item[0], 0), item[0]))
    ]
    return Report(
        figures=figures, row=row, cards=cards, links=links, total_clicks=count(total, "click")
    )


# --- A page of the broadcast list ---------------------------------------------


@dataclass
class Figures:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)


def page_figures(broadcasts: Iterable[Broadcast]) -> dict[int, Figures]:
    """``{broadcast id: Figures}`` for the broadcasts of one page of the
    list, in two grouped queries (those not started have none)."""
    ids = [b.pk for b in broadcasts if b.started_at is not None]
    figures: dict[int, Figures] = defaultdict(Figures)
    if not ids:
        return figures
    sent = (
        Delivery.objects.filter(
            source_type=broadcast_type(), source_id__in=ids, status=DeliveryStatus.SENT
        )
        .values("source_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in sent:
        figures[row["source_id"]].sent = row["n"]
    kinds: dict[str, str] = {
        ActivityKind.EMAIL_OPENED: "opened",
        ActivityKind.EMAIL_CLICKED: "clicked",
        ActivityKind.EMAIL_BOUNCED: "bounced",
    }
    engaged = (
        Activity.objects.filter(kind__in=list(kinds), details__broadcast_id__in=ids)
        .annotate(broadcast=KeyTextTransform("broadcast_id", "details"))
        .values("broadcast", "kind")
        .annotate(n=Count("contact_id", distinct=True))
        .order_by()
    )
    for hit in engaged:
        setattr(figures[int(hit["broadcast"])], kinds[hit["kind"]], hit["n"])
    return figures


def deliveries_of(broadcast_id: int) -> str:
    """The deliveries list showing one broadcast's emails."""
    return deliveries_url(**{"broadcast": broadcast_id})
