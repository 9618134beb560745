"""Ending a delivery's claim: the emails of a claim that certainly did not go
out are released (Pending again), or skipped when they never can go; the
Sent ones get their "sent" activity and let go of the claim; and a sweep
takes back what workers left when they stopped (``recover_abandoned``).

A Sent delivery keeps its claim token until its activity is recorded, so the
sweep records those of a worker that died in between. Each email's end is
told to its source (``emails.signals``) in the transaction that records it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind
from core.bulk import update_rows
from emails.models import Delivery, DeliveryStatus
from emails.signals import settled
from emails.tracking.activity import delivery_activity

#: Sent deliveries of stopped workers whose activity one sweep records.
RECORD_BATCH = 500
UNCERTAIN_STOPPED = (
    "The worker stopped while the mail server had this email: it may have gone out. "
    "Not sent again unless you resend it."
)
SENT_ACTIVITY_FIELDS = [
    "source_type_id",
    "source_id",
    "message_id",
    "sent_at",
    "contact__list_id",
    "contact__email",
    "details",
]


def record_sent(deliveries: list[Delivery], *, rendered_here: bool = True) -> int:
    """Record the "sent" activity of these Sent deliveries, let go of their
    claim and tell their sources, in one transaction; with ``rendered_here``,
    keep the merge fields and subject they were rendered with."""
    if not deliveries:
        return 0
    with transaction.atomic():
        for delivery in deliveries:
            delivery.claim_token, delivery.claim_expires_at = "", None
        # The sweep, recording a dead worker's, does not know what they were rendered
        # with. Written first: the activity hook's receivers (Segment) read the subject.
        rendered = ["merge_context", "subject"] if rendered_here else []
        update_rows(deliveries, ["claim_token", "claim_expires_at", *rendered])
        record_activities([_sent_activity(d) for d in deliveries])
        settled(went=deliveries)
    return len(deliveries)


def _sent_activity(delivery: Delivery) -> Activity:
    return delivery_activity(delivery, ActivityKind.EMAIL_SENT, occurred_at=delivery.sent_at)


def release(deliveries: list[Delivery], token: str, error: Exception) -> None:
    """These deliveries of this claim certainly did not go out: Pending again."""
    Delivery.objects.filter(
        pk__in=[d.pk for d in deliveries],
        status__in=[DeliveryStatus.SENDING, DeliveryStatus.HANDED],
        claim_token=token,
    ).update(
        status=DeliveryStatus.PENDING,
        claim_token="",
        claim_expires_at=None,
        error=str(error)[:2000],
    )


def skip(delivery: Delivery, token: str, reason: str) -> None:
    """This delivery of this claim will never go out (its message cannot be
    rendered for its contact): Skipped with ``reason``, for good, and its
    source told (a Message step holds its contact for a person to act).
    Never retried on its own, so a message fixed later does not send it
    after its moment has passed."""
    with transaction.atomic():
        skipped = Delivery.objects.filter(
            pk=delivery.pk,
            status__in=[DeliveryStatus.SENDING, DeliveryStatus.HANDED],
            claim_token=token,
        ).update(
            status=DeliveryStatus.SKIPPED,
            claim_token="",
            claim_expires_at=None,
            error=reason[:2000],
        )
        if skipped:
            delivery.status, delivery.error = DeliveryStatus.SKIPPED, reason[:2000]
            settled(failed=[delivery])


def recover_abandoned() -> int:
    """What workers left when they stopped, once their lease ran out: emails
    never handed over go back to Pending, emails handed over become
    Uncertain, and Sent emails get their missing "sent" activity. Safe to
    run on many workers at once. Returns how many deliveries it touched."""
    now = timezone.now()
    lapsed = Q(claim_expires_at__lt=now)
    touched = Delivery.objects.filter(lapsed, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, claim_token="", claim_expires_at=None
    )
    with transaction.atomic():
        handed = list(
            Delivery.objects.filter(lapsed, status=DeliveryStatus.HANDED)
            .only("source_type_id", "source_id")
            .select_for_update(skip_locked=True)[:RECORD_BATCH]
        )
        if handed:
            touched += Delivery.objects.filter(
                pk__in=[d.pk for d in handed], status=DeliveryStatus.HANDED
            ).update(
                status=DeliveryStatus.UNCERTAIN,
                claim_token="",
                claim_expires_at=None,
                error=UNCERTAIN_STOPPED,
            )
            settled(went=handed)  # it may have gone out: its source goes on
    with transaction.atomic():
        sent = list(
            Delivery.objects.filter(lapsed, status=DeliveryStatus.SENT)
            .exclude(claim_token="")
            .select_related("contact")
            .only(*SENT_ACTIVITY_FIELDS)
            .select_for_update(skip_locked=True, of=("self",))[:RECORD_BATCH]
        )
        record_sent(sent, rendered_here=False)
    return touched + len(sent)
