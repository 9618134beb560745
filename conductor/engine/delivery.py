"""Sending the emails of Message steps, at most once each.

A Message step writes a ``Delivery`` with its step run; after that commits,
a worker claims a batch (Pending → Sending under a lease, SKIP LOCKED),
skips the addresses that may not be mailed now, renders and sends the rest
over one SMTP connection, and marks them Sent a few at a time. A worker that
dies between the claim and the mark leaves them Sending: when the lease runs
out they are marked Failed, never sent again (the server may have taken
them). An email that could not be sent (server down) goes back to Pending.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from conductor.engine.claims import lease
from conductor.models import Delivery, DeliveryStatus
from conductor.tracking.mime import CampaignEmail
from conductor.tracking.render import MessageTemplates, build_email, merge_fields
from contacts.bulk import update_rows
from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Ban, Contact, SubscriptionState, Suppression
from lists.models import List, ProfileField

logger = logging.getLogger(__name__)

BATCH = 200
MARK_EVERY = 50


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
    """Claim up to ``limit`` pending deliveries and send them over one SMTP
    connection; returns how many were sent."""
    _fail_abandoned()
    claimed = _claim(limit)
    if not claimed:
        return 0  # no connection to open: conversations without emails never need SMTP
    deliveries = list(
        Delivery.objects.select_related("message", "contact__list", "step_run__enrollment")
        .filter(pk__in=claimed)
        .order_by("created_at", "pk")
    )
    sendable = _skip_blocked(deliveries)
    if not sendable:
        return 0
    try:
        smtp = get_connection()
        smtp.open()
    except Exception as error:  # the server is down: nothing went out, try again later
        logger.warning("conductor: cannot reach the mail server: %s", error)
        _release(sendable, error)
        return 0
    try:
        return _send_all(sendable, smtp)
    finally:
        smtp.close()


def _claim(limit: int) -> list[int]:
    """Pending → Sending under a lease, oldest first; SKIP LOCKED lets workers
    claim side by side without taking the same delivery."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(status=DeliveryStatus.PENDING)
            .order_by("created_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
                status=DeliveryStatus.SENDING, claim_expires_at=timezone.now() + lease()
            )
    return ids


def _skip_blocked(deliveries: list[Delivery]) -> list[Delivery]:
    """Deliveries whose contact may not be mailed now are Skipped (with the
    reason); the others are returned."""
    by_list: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_list[delivery.contact.list_id].append(delivery)
    skipped, sendable = [], []
    for group in by_list.values():
        contacts = [d.contact for d in group]
        blocked = blocked_addresses(contacts[0].list, contacts)
        for delivery in group:
            contact = delivery.contact
            reason = (
                f"the contact is {contact.state.lower()}"
                if contact.state != SubscriptionState.SUBSCRIBED
                else blocked.get(contact.email, "")
            )
            if reason:
                delivery.status, delivery.error = DeliveryStatus.SKIPPED, f"Not sent: {reason}."
                skipped.append(delivery)
            else:
                sendable.append(delivery)
    update_rows(skipped, ["status", "error"])
    return sendable


def _send_all(deliveries: list[Delivery], smtp: BaseEmailBackend) -> int:
    templates: dict[int, MessageTemplates] = {}  # by message
    fields: dict[int, list[ProfileField]] = {}  # by list
    sent: list[Delivery] = []
    total = 0
    for index, delivery in enumerate(deliveries):
        try:
            message, list_id = delivery.message, delivery.contact.list_id
            if message.pk not in templates:
                templates[message.pk] = MessageTemplates(message)
            if list_id not in fields:
                fields[list_id] = list(ProfileField.objects.filter(list_id=list_id))
            delivery.merge_context = merge_fields(delivery, fields[list_id])
            email = build_email(delivery, templates=templates[message.pk])
        except Exception as error:  # a template error: this email only
            logger.warning("conductor: delivery %s not rendered: %s", delivery.pk, error)
            _release([delivery], error)
            continue
        try:
            _send_one(email, smtp)
        except Exception as error:  # refused, or the connection dropped
            logger.warning("conductor: delivery %s not sent: %s", delivery.pk, error)
            _release([delivery], error)
            if not _reconnect(smtp):  # the server is gone: the rest wait for the next run
                _release(deliveries[index + 1 :], error)
                break
            continue
        delivery.status, delivery.sent_at, delivery.error = DeliveryStatus.SENT, timezone.now(), ""
        sent.append(delivery)
        # Marked in small groups: a worker dying mid-batch fails (never resends)
        # at most this many emails that did go out, not the whole batch.
        if len(sent) == MARK_EVERY:
            total += _mark_sent(sent)
            sent = []
    return total + _mark_sent(sent)


def _reconnect(smtp: BaseEmailBackend) -> bool:
    """A fresh connection after a failed send (a refused recipient may leave
    the session in any state); False when the server cannot be reached."""
    try:
        smtp.close()
        smtp.open()
    except Exception as error:
        logger.warning("conductor: cannot reach the mail server: %s", error)
        return False
    return True


def _send_one(email: CampaignEmail, smtp: BaseEmailBackend) -> None:
    envelope = [email.envelope_from, *email.to]
    if isinstance(smtp, SmtpBackend) and smtp.connection and all(a.isascii() for a in envelope):
        # Django's SMTP backend would parse both addresses again (a third of
        # a millisecond each); these are the platform's own, already valid.
        raw = email.message().as_bytes(linesep="\r\n")
        smtp.connection.sendmail(email.envelope_from, email.to, raw)
        return
    email.connection = smtp
    email.send()


def _mark_sent(deliveries: list[Delivery]) -> int:
    if not deliveries:
        return 0
    with transaction.atomic():
        update_rows(deliveries, ["status", "sent_at", "error", "merge_context"])
        record_activities(
            [
                Activity(
                    contact=d.contact,
                    list_id=d.contact.list_id,
                    email=d.contact.email,
                    kind=ActivityKind.EMAIL_SENT,
                    occurred_at=d.sent_at,
                    details={
                        "message_id": d.message_id,
                        "delivery_id": d.pk,
                        "conversation_id": d.step_run.enrollment.conversation_id,
                    },
                )
                for d in deliveries
            ]
        )
    return len(deliveries)


def _release(deliveries: list[Delivery], error: Exception) -> None:
    Delivery.objects.filter(
        pk__in=[d.pk for d in deliveries], status=DeliveryStatus.SENDING
    ).update(status=DeliveryStatus.PENDING, claim_expires_at=None, error=str(error)[:2000])


def _fail_abandoned() -> None:
    Delivery.objects.filter(
        status=DeliveryStatus.SENDING, claim_expires_at__lt=timezone.now()
    ).update(
        status=DeliveryStatus.FAILED,
        error="The worker stopped while sending; not sent again, as it may have gone out.",
    )
