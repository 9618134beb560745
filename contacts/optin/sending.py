"""Sending one confirmation email: claim the request, check, send, record.

Safe with many workers: a worker claims a request by a compare-and-swap on its
status, under a lease, so two workers handed the same request (a re-delivered
task, the sweep) never both send it. A worker that dies mid-send leaves the
request ``Sending``; once its lease has run out the sweep queues it again.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
import uuid
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from contacts.models import Ban, Contact, OptInRequest, OptInStatus, SubscriptionState, Suppression
from contacts.optin.confirmation import confirmation_url
from lists.models import List

logger = logging.getLogger(__name__)


def lease() -> datetime.timedelta:
    """How long a claim lasts: well beyond one SMTP conversation (each of its
    steps may take ``EMAIL_TIMEOUT``), so a slow send is never taken over."""
    return max(
        datetime.timedelta(minutes=5), datetime.timedelta(seconds=settings.EMAIL_TIMEOUT * 4)
    )


def claim(request_id: int) -> str | None:
    """Take the request for this worker; returns the claim token, or None when
    it is done or another worker holds a live lease on it."""
    token = uuid.uuid4().hex
    now = timezone.now()
    # The compare-and-swap: of two workers racing here, the database lets
    # exactly one UPDATE match the row.
    taken = OptInRequest.objects.filter(
        Q(status=OptInStatus.WAITING) | Q(status=OptInStatus.SENDING, lease_expires_at__lt=now),
        pk=request_id,
    ).update(status=OptInStatus.SENDING, claim_token=token, lease_expires_at=now + lease())
    return token if taken else None


def send_confirmation(request_id: int) -> str | None:
    """Send the confirmation email of one request, unless another worker has
    it, it went out already, or it must not be sent (the contact is no longer
    pending, or its address is banned or suppressed: the request is then
    ``Skipped`` with the reason). Returns the request's status afterwards
    (None when it is gone with its contact)."""
    token = claim(request_id)
    if token is None:
        return OptInRequest.objects.filter(pk=request_id).values_list("status", flat=True).first()
    request = OptInRequest.objects.select_related("contact__list").filter(pk=request_id).first()
    if request is None:  # deleted with its contact since the claim
        return None
    reason = reason_not_to_send(request.contact)
    if reason:
        _finish(request, token, status=OptInStatus.SKIPPED, reason=reason)
        return OptInStatus.SKIPPED
    # From here a crash after the SMTP server took the message but before
    # ``_finish`` sends it again once the lease runs out: SMTP has no two-phase
    # commit. The Message-ID is the request's own, so the copy is recognisable.
    try:
        build_message(request).send()
    except smtplib.SMTPRecipientsRefused as error:
        if not _refused_for_good(error):
            return _release(request, token, error)
        _finish(request, token, status=OptInStatus.SKIPPED, reason=_refusal(error))
        return OptInStatus.SKIPPED
    except Exception as error:  # an SMTP outage, a bad setting: try again later
        return _release(request, token, error)
    _finish(request, token, status=OptInStatus.SENT, sent_at=timezone.now())
    return OptInStatus.SENT


def reason_not_to_send(contact: Contact) -> str:
    """Why ``contact`` must not get a confirmation email now ("" when it may).

    A ban or unsubscribe landing between this check and the send still mails
    the person once, but the link then confirms nothing (see
    ``confirm_subscription``)."""
    if contact.state != SubscriptionState.PENDING:
        return f"The contact is no longer pending ({contact.get_state_display()})."
    if Suppression.objects.filter(email=contact.email).exists():
        return "The address is suppressed."
    if Ban.objects.filter(list_id=contact.list_id, email=contact.email).exists():
        return "The address is banned from the list."
    return ""


def build_message(request: OptInRequest) -> EmailMultiAlternatives:
    """The confirmation email of ``request``, from the list's sender."""
    contact = request.contact
    email_list = contact.list
    context = {
        "list_name": email_list.name,
        "email": contact.email,
        "confirm_url": confirmation_url(contact),
    }
    sender = sender_of(email_list)
    # A line break in a header would make Django refuse the message (header injection).
    subject = " ".join(f"Confirm your subscription to {email_list.name}".split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("contacts/optin/email.txt", context),
        from_email=sender,
        to=[contact.email],
        headers={"Message-ID": f"<optin-{request.key}@{_domain(sender)}>"},
    )
    message.attach_alternative(render_to_string("contacts/optin/email.html", context), "text/html")
    return message


def sender_of(email_list: List) -> str:
    """The list's from name and address; DEFAULT_FROM_EMAIL's address when the
    list has none."""
    if email_list.from_email:
        return formataddr((email_list.from_name, email_list.from_email))
    if email_list.from_name:
        return formataddr((email_list.from_name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    return settings.DEFAULT_FROM_EMAIL


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _refused_for_good(error: smtplib.SMTPRecipientsRefused) -> bool:
    # 5xx is the server's final word on the address; 4xx may pass later.
    return all(code >= 500 for code, _ in error.recipients.values())


def _refusal(error: smtplib.SMTPRecipientsRefused) -> str:
    code, text = next(iter(error.recipients.values()))
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"The mail server refused the address: {code} {detail}"[:200]


def _finish(request: OptInRequest, token: str, **changes: object) -> None:
    # Only while our claim holds: a worker that overran its lease must not
    # overwrite the outcome of the worker that took the request over.
    done = OptInRequest.objects.filter(pk=request.pk, claim_token=token).update(
        lease_expires_at=None, attempts=F("attempts") + 1, **changes
    )
    if not done:
        logger.warning("Opt-in request %s was taken over by another worker.", request.pk)


def _release(request: OptInRequest, token: str, error: Exception) -> str:
    """Give the request back for the sweep to retry (SMTP outage, bad settings)."""
    logger.warning("Could not send opt-in request %s: %s", request.pk, error, exc_info=error)
    _finish(
        request, token, status=OptInStatus.WAITING, last_error=f"{type(error).__name__}: {error}"
    )
    return OptInStatus.WAITING
