"""Sending the emails of Message steps, at most once each.

A Message step writes a ``Delivery`` with its step run; after that commits,
a worker claims a batch (Pending → Sending under a lease, SKIP LOCKED),
skips the addresses that may not be mailed now, renders the rest and sends
them over ``EMAIL_CONNECTIONS`` connections at once (``senders``), and marks
them Sent a few at a time. A worker that
dies between the claim and the mark leaves them Sending: when the lease runs
out they are marked Failed, never sent again (the server may have taken
them). An email that could not be sent (server down) goes back to Pending.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from conductor.engine.claims import lease
from conductor.engine.senders import Senders, ServerGone
from conductor.models import Delivery, DeliveryStatus, Message
from conductor.tracking.mime import CampaignEmail
from conductor.tracking.render import MessageTemplates, build_email, merge_fields
from contacts.bulk import json_strings, update_rows
from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Ban, Contact, SubscriptionState, Suppression
from lists.models import List, ProfileField

logger = logging.getLogger(__name__)

BATCH = 500
MARK_EVERY = 100
DELIVERY_FIELDS = [
    "message_id",
    "contact__list_id",
    "contact__email",
    "contact__email_key",
    "contact__state",
    "contact__profile",
    "step_run__enrollment__conversation_id",
    "step_run__enrollment__trigger_kind",
    "step_run__enrollment__trigger_details",
]


def blocked_addresses(email_list: List, contacts: Iterable[Contact]) -> dict[str, str]:
    """``{address: reason}`` of these contacts' addresses that are banned from
    the list or suppressed."""
    emails = [c.email for c in contacts]
    suppressed = Suppression.objects.filter(email__in=json_strings(emails))
    blocked = {e: "the address is suppressed" for e in suppressed.values_list("email", flat=True)}
    banned = Ban.objects.filter(list=email_list, email__in=json_strings(emails))
    for email in banned.values_list("email", flat=True):
        blocked[email] = "the address is banned"
    return blocked


def queue_deliveries() -> None:
    """Have a worker send the pending deliveries (called once a step commits)."""
    async_task(send_deliveries, task_name="conductor-deliveries")


def send_deliveries(limit: int = BATCH) -> int:
    """Claim up to ``limit`` pending deliveries and send them over
    ``EMAIL_CONNECTIONS`` connections; returns how many were sent."""
    _fail_abandoned()
    claimed = _claim(limit)
    if not claimed:
        return 0  # no connection to open: conversations without emails never need SMTP
    sendable = _skip_blocked(_load(claimed))
    if not sendable:
        return 0
    return _send_all(sendable)


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


def _load(ids: list[int]) -> list[Delivery]:
    """The claimed deliveries with what sending reads of their contacts and
    enrollments (only that: most of a batch's time would otherwise go into
    building model instances); their messages and lists, one each."""
    deliveries = list(
        Delivery.objects.select_related("contact", "step_run__enrollment")
        .only(*DELIVERY_FIELDS)
        .filter(pk__in=ids)
        .order_by("created_at", "pk")
    )
    messages = Message.objects.in_bulk({d.message_id for d in deliveries})
    lists = List.objects.in_bulk({d.contact.list_id for d in deliveries})
    for delivery in deliveries:
        delivery.message = messages[delivery.message_id]
        delivery.contact.list = lists[delivery.contact.list_id]
    return deliveries


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


def _send_all(deliveries: list[Delivery]) -> int:
    templates: dict[int, MessageTemplates] = {}  # by message
    fields: dict[int, list[ProfileField]] = {}  # by list
    sent: list[Delivery] = []
    total = 0

    def record(results: Iterable[tuple[Delivery, Exception | None]]) -> None:
        nonlocal sent, total
        for delivery, error in results:
            if error is not None:
                logger.warning("conductor: delivery %s not sent: %s", delivery.pk, error)
                _release([delivery], error)
                continue
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, timezone.now()
            delivery.error = ""
            sent.append(delivery)
            # Marked in small groups: a worker dying mid-batch fails (never
            # resends) at most this many emails that did go out, not the batch.
            if len(sent) == MARK_EVERY:
                total += _mark_sent(sent)
                sent = []

    with Senders(min(settings.EMAIL_CONNECTIONS, len(deliveries)), _send_one) as senders:
        for index, delivery in enumerate(deliveries):
            try:
                message, list_id = delivery.message, delivery.contact.list_id
                if message.pk not in templates:
                    templates[message.pk] = MessageTemplates(message)
                if list_id not in fields:
                    fields[list_id] = list(ProfileField.objects.filter(list_id=list_id))
                delivery.merge_context = merge_fields(delivery, fields[list_id])
                email = build_email(delivery, templates=templates[message.pk])
                delivery.subject = email.subject  # Segment reports it with each of its activities
            except Exception as error:  # a template error: this email only
                logger.warning("conductor: delivery %s not rendered: %s", delivery.pk, error)
                _release([delivery], error)
                continue
            if not senders.put(delivery, email):  # the server is gone: the rest wait
                _release(deliveries[index:], ServerGone(str(senders.last_error)))
                break
            record(senders.finished())
        record(senders.close())
    return total + _mark_sent(sent)


def _send_one(email: CampaignEmail, smtp: BaseEmailBackend) -> None:
    envelope = [email.envelope_from, *email.to]
    if isinstance(smtp, SmtpBackend) and smtp.connection and all(a.isascii() for a in envelope):
        _smtp_send(smtp.connection, email.envelope_from, email.to, email.message().as_bytes("\r\n"))
        return
    email.connection = smtp
    email.send()


def _smtp_send(connection: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes) -> None:
    """``smtplib``'s ``sendmail`` for the platform's own addresses, already
    valid and ASCII: ``sendmail`` parses each address again (a third of a
    millisecond each) and runs two regular expressions over the email."""
    connection.ehlo_or_helo_if_needed()
    code, reply = connection.docmd("MAIL", f"FROM:<{sender}>")
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    for recipient in recipients:
        code, reply = connection.docmd("RCPT", f"TO:<{recipient}>")
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = connection.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    # RFC 5321 4.5.2: a line starting with "." gets another; "." alone ends the data.
    data = raw.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    connection.send(data + b".\r\n")
    code, reply = connection.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _mark_sent(deliveries: list[Delivery]) -> int:
    if not deliveries:
        return 0
    with transaction.atomic():
        update_rows(deliveries, ["status", "sent_at", "error", "merge_context", "subject"])
        record_activities(
            [
                Activity(
                    contact_id=d.contact_id,
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
