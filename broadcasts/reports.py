"""Broadcast reports: the figures of Listrak's ``MessageSummary`` for a
broadcast, its links' clicks, and who it reached and what they did.

As the conversation reports (``conductor.reports``), each figure is one
aggregate query: sent emails over the broadcast's deliveries (its source
key), engagement over the activity its emails caused, read through the
``activity_broadcast`` index (``details.broadcast_id``).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Exists, FloatField, IntegerField, OuterRef, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from broadcasts.audiences import broadcast_type
from broadcasts.models import Broadcast
from conductor.reports import CONTACT_FIGURES, Summary
from conductor.selectors import EMAIL_ACTIVITY_KINDS
from contacts.models import Activity, ActivityKind
from contacts.selectors import within
from emails.models import Delivery, DeliveryStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _DeliveryId(TypedDict):
    """What ``email_activity`` annotates each activity with."""

    delivery: int | None


def deliveries(broadcast: Broadcast) -> QuerySet[Delivery]:
    """Every email of the broadcast, whatever became of it."""
    return Delivery.objects.filter(source_type=broadcast_type(), source_id=broadcast.pk)


def status_counts(broadcast: Broadcast) -> dict[str, int]:
    """``{delivery status: emails}`` of the broadcast: its progress."""
    rows = deliveries(broadcast).values("status").annotate(n=Count("pk")).order_by()
    return {row["status"]: row["n"] for row in rows}


def email_activity(broadcast: Broadcast) -> QuerySet[WithAnnotations[Activity, _DeliveryId]]:
    """The activity the broadcast's emails caused, each row annotated with
    ``delivery``: the id of the delivery whose email it came of."""
    return Activity.objects.filter(
        list_id=broadcast.list_id,
        kind__in=list(EMAIL_ACTIVITY_KINDS),
        details__broadcast_id=broadcast.pk,
    ).annotate(delivery=Cast(KeyTextTransform("delivery_id", "details"), IntegerField()))


def summary(broadcast: Broadcast) -> Summary:
    """The broadcast's figures: sent, opened, clicked, bounced, unsubscribed
    (contacts, each once), conversions and revenue."""
    figures = Summary(sent=deliveries(broadcast).filter(status=DeliveryStatus.SENT).count())
    activity = (
        Activity.objects.filter(
            list_id=broadcast.list_id,
            kind__in=[*CONTACT_FIGURES, ActivityKind.EMAIL_CONVERTED],
            details__broadcast_id=broadcast.pk,
        )
        .values("kind")
        .annotate(
            contacts=Count("contact_id", distinct=True),
            rows=Count("pk"),
            revenue=Sum(Cast(KeyTextTransform("order_total", "details"), FloatField())),
        )
        .order_by()
    )
    for row in activity:
        if row["kind"] == ActivityKind.EMAIL_CONVERTED:
            figures.converted = row["rows"]
            figures.revenue = round(row["revenue"] or 0.0, 2)
        else:
            setattr(figures, CONTACT_FIGURES[row["kind"]], row["contacts"])
    return figures


def link_clicks(broadcast: Broadcast) -> dict[int, int]:
    """``{link id: clicks}`` of the broadcast's emails."""
    rows = (
        Activity.objects.filter(
            list_id=broadcast.list_id,
            kind=ActivityKind.EMAIL_CLICKED,
            details__broadcast_id=broadcast.pk,
        )
        .annotate(link=KeyTextTransform("link_id", "details"))
        .values("link")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {int(row["link"]): row["n"] for row in rows if row["link"] is not None}


def sent_deliveries(
    broadcast: Broadcast,
    *,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    with_activity: str | None = None,
) -> QuerySet[Delivery]:
    """The broadcast's sent emails, sent between ``start`` and ``end``
    (inclusive) when given; with ``with_activity`` (an ``ActivityKind``),
    only those whose email caused activity of that kind."""
    sent = within(
        deliveries(broadcast).filter(status=DeliveryStatus.SENT),
        column="sent_at",
        start=start,
        end=end,
    )
    if with_activity is not None:
        had = email_activity(broadcast).filter(kind=with_activity, delivery=OuterRef("pk"))
        sent = sent.filter(Exists(had))
    return sent


def activity_by_delivery(
    broadcast: Broadcast, delivery_ids: Iterable[int]
) -> dict[int, list[Activity]]:
    """``{delivery id: its email's activity, oldest first}``, in one query."""
    by_delivery: dict[int, list[Activity]] = defaultdict(list)
    rows = email_activity(broadcast).filter(delivery__in=list(delivery_ids))
    for row in rows.order_by("occurred_at", "pk"):
        assert row.delivery is not None  # the filter above names a delivery
        by_delivery[row.delivery].append(row)
    return dict(by_delivery)


def link_clicks_between(
    broadcast: Broadcast,
    *,
    link_id: int,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> QuerySet[Activity]:
    """The clicks on link ``link_id`` of the broadcast's emails, made between
    ``start`` and ``end`` (inclusive) when given."""
    clicks = Activity.objects.filter(
        list_id=broadcast.list_id,
        kind=ActivityKind.EMAIL_CLICKED,
        details__broadcast_id=broadcast.pk,
        details__link_id=link_id,
    )
    return within(clicks, column="occurred_at", start=start, end=end)


def engaged_share(broadcast: Broadcast, kind: str) -> tuple[int, int]:
    """``(contacts whose email caused ``kind``, emails sent)`` of the broadcast."""
    sent = deliveries(broadcast).filter(status=DeliveryStatus.SENT).count()
    engaged = (
        Activity.objects.filter(
            list_id=broadcast.list_id, kind=kind, details__broadcast_id=broadcast.pk
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    return engaged, sent
