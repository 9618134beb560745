"""Sending the emails of Message steps, at most once each.

A Message step writes a ``Delivery`` with its step run; after that commits,
a worker claims it (Pending → Sending, compare-and-swap), checks the address
may still be mailed, renders and sends it, and marks it Sent. A worker that
dies between the claim and the mark leaves it Sending: when its lease runs
out it is marked Failed, never sent again (the server may have taken it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django_q.tasks import async_task

from conductor.engine.claims import lease
from conductor.models import Delivery, DeliveryStatus
from conductor.tracking.links import link_ids
from conductor.tracking.render import build_email, merge_fields
from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Ban, Contact, SubscriptionState, Suppression
from lists.models import List

logger = logging.getLogger(__name__)

BATCH = 200


def blocked_addresses(email_list: List, contacts: Iterable[Contact]) -> dict[str, str]:
    """``{address: reason}`` of these contacts' addresses that are banned from
    the list or suppressed."""
    emails = [c.email for c in contacts]
    blocked = {
        e: "the address is suppressed"
        for e in Suppression.objects.filter(email__in=emails).values_list("email", flat=True)
    }
    for email in Ban.objects.filter(list=email_list, email__in=emails).values_list(
        "email", flat=True
    ):
        blocked[email] = "the address is banned"
    return blocked


def queue_deliveries() -> None:
    """Have a worker send the pending deliveries (called once a step commits)."""
    async_task(send_deliveries, task_name="conductor-deliveries")


def send_deliveries(limit: int = BATCH) -> int:
    """Claim and send up to ``limit`` pending deliveries; returns how many were sent."""
    _fail_abandoned()
    now = timezone.now()
    candidates = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return 0  # no connection to open: conversations without emails never need SMTP
    sent = 0
    links: dict[int, dict[str, int]] = {}  # by message: its links' ids, found once
    # One SMTP connection for the batch, not one per email.
    with get_connection() as smtp:
        for pk in candidates:
            # Compare-and-swap: of two workers, only one moves it out of Pending.
            if not Delivery.objects.filter(pk=pk, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SENDING, claim_expires_at=now + lease()
            ):
                continue
            sent += _send(pk, smtp, links)
    return sent


def _fail_abandoned() -> None:
    Delivery.objects.filter(
        status=DeliveryStatus.SENDING, claim_expires_at__lt=timezone.now()
    ).update(
        status=DeliveryStatus.FAILED,
        error="The worker stopped while sending; not sent again, as it may have gone out.",
    )


def _send(pk: int, smtp: BaseEmailBackend, links: dict[int, dict[str, int]]) -> int:
    delivery = (
        Delivery.objects.select_related("message", "contact__list", "step_run__enrollment")
        .filter(pk=pk)
        .first()
    )
    if delivery is None:
        return 0
    contact = delivery.contact
    reason = ""
    if contact.state != SubscriptionState.SUBSCRIBED:
        reason = f"the contact is {contact.state.lower()}"
    else:
        reason = blocked_addresses(contact.list, [contact]).get(contact.email, "")
    if reason:
        _finish(delivery, DeliveryStatus.SKIPPED, error=f"Not sent: {reason}.")
        return 0
    try:
        if delivery.message_id not in links:
            links[delivery.message_id] = link_ids(delivery.message)
        delivery.merge_context = merge_fields(delivery)
        email = build_email(delivery, link_ids=links[delivery.message_id])
        email.connection = smtp
        email.send()
    except Exception as error:  # SMTP down, a template error: nothing went out
        logger.warning("conductor: delivery %s not sent: %s", pk, error)
        Delivery.objects.filter(pk=pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, claim_expires_at=None, error=str(error)[:2000]
        )
        return 0
    _finish(delivery, DeliveryStatus.SENT, sent_at=timezone.now())
    record_activities(
        [
            Activity(
                contact=contact,
                list_id=contact.list_id,
                email=contact.email,
                kind=ActivityKind.EMAIL_SENT,
                occurred_at=delivery.sent_at,
                details={"message_id": delivery.message_id, "delivery_id": delivery.pk},
            )
        ]
    )
    return 1


def _finish(delivery: Delivery, status: str, *, error: str = "", sent_at=None) -> None:
    delivery.status, delivery.error, delivery.sent_at = status, error, sent_at
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, error=error, sent_at=sent_at, merge_context=delivery.merge_context
    )
