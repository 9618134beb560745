"""Bounces and spam complaints reported by the mail server or provider
(the webhook in ``emails.views``), and what they do to the contact.

One report names the email by the ``Message-ID`` it was sent with
(``<delivery-ID@domain>``) and says what happened:

- ``complaint``: recorded as ``Email Marked As Spam``; the contact is
  unsubscribed (``Spam Complaint``), whatever the list's bounce handling.
- ``hard_bounce`` / ``soft_bounce``: recorded as ``Email Bounced``; then the
  list's bounce handling decides. ``None``: nobody is unsubscribed for
  bouncing. ``Standard``: a hard bounce unsubscribes at once (``Hard
  Bounce``); soft bounces unsubscribe once the contact has bounced
  ``bounce_unsubscribe_count`` times since it (re)subscribed (``Bounce
  Limit``). ``Aggressive``: any bounce unsubscribes at once.

An email service's own webhooks (``emails.anymail_feedback``) make the same
reports through :func:`check_claims` and :func:`apply_reports`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, SubscriptionState, UnsubscribeMethod
from contacts.services import unsubscribe_contact
from emails.models import MAY_HAVE_GONE_OUT, Delivery
from emails.tracking.activity import delivery_activity, delivery_details
from lists.models import BounceHandling

KINDS = ("hard_bounce", "soft_bounce", "complaint")
MAX_REPORTS = 1000
MAX_REASON = 1000
_MESSAGE_ID = re.compile(r"^<?delivery-(\d{1,18})@[^>\s]+>?$")


@dataclass(frozen=True)
class Claim:
    """What one report says, before it is checked against the deliveries."""

    delivery_id: int
    email: str
    kind: str  # one of KINDS
    reason: str = ""
    #: How the report named the email (its Message-ID), quoted when no such email was sent.
    named_as: str = ""


@dataclass(frozen=True)
class Report:
    delivery: Delivery
    kind: str
    reason: str
    #: An email service's report (its name, recorded with the activity): a
    #: service reports what happened to an email once, so a repeat of it
    #: (a retried webhook) changes nothing.
    service: str = ""


def parse_reports(payload: object) -> list[Report]:
    """The reports of a webhook body: one report object, or ``{"events":
    [...]}``. Every problem of every report is named (``events[2].kind: …``)
    in one ValidationError, and then nothing is applied."""
    batch = isinstance(payload, dict) and "events" in payload
    items = cast(dict[str, object], payload)["events"] if batch else [payload]  # batch: a dict
    if not isinstance(items, list) or not items:
        raise ValidationError('Send one report object, or {"events": [reports]}.')
    if len(items) > MAX_REPORTS:
        raise ValidationError(f"At most {MAX_REPORTS} reports per request.")

    def label(index: int) -> str:
        return f"events[{index}]" if batch else "report"

    problems: list[str] = []
    wanted: list[tuple[str, Claim]] = []
    for index, item in enumerate(items):
        found = _check(item, label(index), problems)
        if found is not None:
            claim = Claim(
                delivery_id=found,
                email=item["email"],
                kind=item["kind"],
                reason=str(item.get("reason") or ""),
                named_as=item["message_id"],
            )
            wanted.append((label(index), claim))
    reports: list[Report] = []
    for (where, _), checked in zip(wanted, check_claims([c for _, c in wanted]), strict=True):
        if isinstance(checked, Report):
            reports.append(checked)
        else:
            field, problem = checked
            problems.append(f"{where}.{field}: {problem}")
    if problems:
        raise ValidationError(problems)
    return reports


def check_claims(claims: Sequence[Claim], *, service: str = "") -> list[Report | tuple[str, str]]:
    """Each claim's report, or in its place the field that is wrong and why:
    the email must have been sent (or may have gone out), to that address.
    ``service``: the email service making the claims."""
    deliveries = Delivery.objects.select_related("contact__list").in_bulk(
        [claim.delivery_id for claim in claims]
    )
    checked: list[Report | tuple[str, str]] = []
    for claim in claims:
        delivery = deliveries.get(claim.delivery_id)
        if delivery is None or delivery.status not in MAY_HAVE_GONE_OUT:
            checked.append(("message_id", f"no email was sent with {claim.named_as}."))
        elif delivery.contact.email != claim.email.strip().lower():
            checked.append(("email", f"{claim.email} is not who that email was sent to."))
        else:
            checked.append(Report(delivery, claim.kind, claim.reason, service))
    return checked


def delivery_id_of(message_id: str) -> int | None:
    """The delivery whose email was sent with the ``Message-ID`` header
    ``message_id`` (``<delivery-ID@domain>``), or None for another one."""
    match = _MESSAGE_ID.match(message_id.strip())
    return None if match is None else int(match.group(1))


def _check(item: object, where: str, problems: list[str]) -> int | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: a report is an object.")
        return None
    unknown = set(item) - {"email", "message_id", "kind", "reason"}
    if unknown:
        problems.append(f"{where}: unknown fields {', '.join(sorted(map(str, unknown)))}.")
    for name in ("email", "message_id", "kind"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            problems.append(f"{where}.{name}: required, a string.")
    if isinstance(item.get("kind"), str) and item["kind"] not in KINDS:
        problems.append(f"{where}.kind: one of {', '.join(KINDS)}, not {item['kind']!r}.")
    reason = item.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        problems.append(f"{where}.reason: a string of at most {MAX_REASON} characters.")
    if not isinstance(item.get("message_id"), str):
        return None
    found = delivery_id_of(item["message_id"])
    if found is None:
        problems.append(f"{where}.message_id: not a Message-ID this platform sent.")
    return found


def apply_reports(reports: Sequence[Report]) -> int:
    """Record each report and unsubscribe as the rules say, atomically;
    returns how many contacts were unsubscribed. An email service's report
    of what is already recorded for that email (the same bounce, hard or
    soft, or a complaint) is skipped."""
    unsubscribed = 0
    with transaction.atomic():
        for report in reports:
            if report.service and _already_recorded(report):
                continue
            _record(report)
            method = _unsubscribe_method(report)
            contact = report.delivery.contact
            # One only ever sent transactional email has no subscription to end.
            subscribed = (SubscriptionState.SUBSCRIBED, SubscriptionState.PENDING)
            if method and contact.state in subscribed:
                details = delivery_details(report.delivery)
                unsubscribe_contact(contact=contact, method=method, details=details)
                unsubscribed += 1
    return unsubscribed


def _already_recorded(report: Report) -> bool:
    # The delivery's row, locked until the transaction ends: the same webhook
    # sent twice at once waits here for the first, then finds its activity.
    Delivery.objects.select_for_update().filter(pk=report.delivery.pk).first()
    kind, details = _activity(report)
    found = Activity.objects.filter(
        contact_id=report.delivery.contact_id, kind=kind, details__delivery_id=report.delivery.pk
    )
    if "bounce_kind" in details:
        found = found.filter(details__bounce_kind=details["bounce_kind"])
    return found.exists()


def _activity(report: Report) -> tuple[str, dict[str, object]]:
    details: dict[str, object] = {}
    if report.kind == "complaint":
        kind = ActivityKind.EMAIL_SPAM
    else:
        kind = ActivityKind.EMAIL_BOUNCED
        details["bounce_kind"] = "hard" if report.kind == "hard_bounce" else "soft"
    if report.reason:
        details["reason"] = report.reason
    if report.service:
        details["service"] = report.service
    return kind, details


def _record(report: Report) -> None:
    kind, details = _activity(report)
    record_activities([delivery_activity(report.delivery, kind, details=details)])


def _unsubscribe_method(report: Report) -> str | None:
    if report.kind == "complaint":
        return UnsubscribeMethod.SPAM_COMPLAINT
    contact = report.delivery.contact
    handling = contact.list.bounce_handling
    if handling == BounceHandling.NONE:
        return None
    if report.kind == "hard_bounce":
        return UnsubscribeMethod.HARD_BOUNCE
    if handling == BounceHandling.AGGRESSIVE:
        return UnsubscribeMethod.BOUNCE_LIMIT
    bounces = Activity.objects.filter(contact=contact, kind=ActivityKind.EMAIL_BOUNCED)
    since = max(filter(None, [contact.subscribed_at, contact.resubscribed_at]), default=None)
    if since is not None:  # bounces before the latest (re)subscription are forgiven
        bounces = bounces.filter(occurred_at__gte=since)
    if bounces.count() >= contact.list.bounce_unsubscribe_count:
        return UnsubscribeMethod.BOUNCE_LIMIT
    return None
