"""Conversions: a purchase (an external event whose data carries an order
total, ``orderTotal`` or ``order_total``) within ``CONVERSION_WINDOW_DAYS``
after the contact clicked a link of an email records ``Email Converted``
for that email, with the total. The latest click before the purchase takes
the credit; a purchase is credited once (its event activity is recorded
once).

The receiver hands its conversions back to the activity hook, which records
them once every receiver has seen the purchases (``contacts.hooks``): so
every receiver, Segment's outbox included, sees the conversions too,
whatever the order of the apps."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.dispatch import receiver

from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind
from contacts.services import email_activity

TOTAL_KEYS = ("orderTotal", "order_total")
CREDITED = (
    "message_id",
    "delivery_id",
    "conversation_id",
    "broadcast_id",
    "transactional_id",
    "google_analytics_campaign_name",
    "link_id",
    "link_url",
)


def order_total(data: object) -> Decimal | None:
    """The order total an event's data carries, or None."""
    if not isinstance(data, dict):
        return None
    for key in TOTAL_KEYS:
        value = data.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            total = Decimal(str(value))
        except (InvalidOperation, ValueError):
            continue
        if total.is_finite() and total >= 0:
            return total
    return None


def window() -> datetime.timedelta:
    """How long after a click a purchase converts its email."""
    return datetime.timedelta(days=settings.CONVERSION_WINDOW_DAYS)


@receiver(activities_recorded, dispatch_uid="emails.record_conversions")
def record_conversions(
    sender: Any,
    activities: QuerySet[Activity],
    kinds: frozenset[str] | None = None,
    **kwargs: Any,
) -> list[Activity]:
    """The ``Email Converted`` activities (unsaved) of a batch's purchases,
    for the hook to record after the batch."""
    if kinds is not None and ActivityKind.EVENT_FIRED not in kinds:
        return []
    purchases = [
        (activity, total)
        for activity in activities.filter(kind=ActivityKind.EVENT_FIRED)
        if (total := order_total(activity.details.get("data"))) is not None
    ]
    if not purchases:
        return []
    earliest = min(activity.occurred_at for activity, _ in purchases) - window()
    clicks: dict[int, list[Activity]] = defaultdict(list)  # by contact, latest first
    for click in Activity.objects.filter(
        contact_id__in={activity.contact_id for activity, _ in purchases},
        kind=ActivityKind.EMAIL_CLICKED,
        occurred_at__gte=earliest,
    ).order_by("contact_id", "-occurred_at", "-id"):
        clicks[click.contact_id].append(click)
    conversions: list[Activity] = []
    for purchase, total in purchases:
        credited = next(
            (
                click
                for click in clicks[purchase.contact_id]
                if purchase.occurred_at - window() <= click.occurred_at <= purchase.occurred_at
                and click.details.get("message_id") is not None
            ),
            None,
        )
        if credited is None:
            continue
        details = {key: credited.details[key] for key in CREDITED if key in credited.details}
        conversions.append(
            email_activity(
                contact_id=purchase.contact_id,
                list_id=purchase.list_id,
                email=purchase.email,
                kind=ActivityKind.EMAIL_CONVERTED,
                occurred_at=purchase.occurred_at,
                details={
                    **details,
                    "order_total": float(total),
                    "event_id": purchase.details.get("event_id"),
                    "click_activity_id": credited.pk,
                },
            )
        )
    return conversions
