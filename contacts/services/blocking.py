"""Bans (per list) and suppressions (every list)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import (
    ActivityKind,
    Ban,
    Contact,
    SubscriptionState,
    Suppression,
    UnsubscribeMethod,
)
from contacts.services.common import (
    ContactResult,
    Outcome,
    activity_for,
    chunks,
    lock_contacts,
    parse_addresses,
)
from contacts.services.subscriptions import mark_unsubscribed, save_unsubscribed
from lists.models import List


def ban_addresses(
    *, email_list: List, emails: Sequence[str], reason: str = ""
) -> list[ContactResult]:
    """Ban addresses from ``email_list``: they can no longer be subscribed,
    and a contact of theirs that is subscribed or pending is unsubscribed with
    method ``Ban``. Banning twice is harmless."""
    results, first = parse_addresses(emails)
    now = timezone.now()
    with transaction.atomic():
        for part in chunks(sorted(first)):
            Ban.objects.bulk_create(
                [Ban(list=email_list, email=e, reason=reason, created_at=now) for e in part],
                ignore_conflicts=True,
            )
        contacts = lock_contacts(email_list, first)
        # One only ever sent transactional email stays so: there is nothing to leave.
        staying = (SubscriptionState.UNSUBSCRIBED, SubscriptionState.NEVER_SUBSCRIBED)
        leaving = [c for c in contacts.values() if c.state not in staying]
        for contact in leaving:
            mark_unsubscribed(contact, now=now, method=UnsubscribeMethod.BAN)
        save_unsubscribed(leaving, now=now, method=UnsubscribeMethod.BAN)
        record_activities(
            [activity_for(c, ActivityKind.BANNED, now, reason=reason) for c in contacts.values()]
        )
    for email, index in first.items():
        results[index] = ContactResult(email, Outcome.BANNED, contacts.get(email))
    return cast(list[ContactResult], results)  # every slot is filled by now


def ban_address(*, email_list: List, email: str, reason: str = "") -> ContactResult:
    (result,) = ban_addresses(email_list=email_list, emails=[email], reason=reason)
    result.raise_error()
    return result


def unban_addresses(*, email_list: List, emails: Sequence[str]) -> int:
    """Lift bans; the contacts stay unsubscribed. Returns how many were lifted."""
    _, first = parse_addresses(emails)
    now = timezone.now()
    lifted = 0
    with transaction.atomic():
        for part in chunks(sorted(first)):
            gone = list(
                Ban.objects.select_for_update()
                .filter(list=email_list, email__in=part)
                .values_list("email", flat=True)
            )
            lifted += Ban.objects.filter(list=email_list, email__in=gone).delete()[0]
            contacts = Contact.objects.filter(list=email_list, email__in=gone)
            record_activities([activity_for(c, ActivityKind.UNBANNED, now) for c in contacts])
    return lifted


def suppress_addresses(*, emails: Sequence[str], reason: str = "") -> list[ContactResult]:
    """Suppress addresses on every list: they cannot be subscribed and are
    never sent to. Their contacts keep their state and get a ``suppressed``
    activity."""
    results, first = parse_addresses(emails)
    now = timezone.now()
    with transaction.atomic():
        activities = []
        for part in chunks(sorted(first)):
            Suppression.objects.bulk_create(
                [Suppression(email=e, reason=reason, created_at=now) for e in part],
                ignore_conflicts=True,
            )
            contacts = _on_every_list(part)
            activities += [
                activity_for(c, ActivityKind.SUPPRESSED, now, reason=reason) for c in contacts
            ]
        record_activities(activities)
    for email, index in first.items():
        results[index] = ContactResult(email, Outcome.SUPPRESSED)
    return cast(list[ContactResult], results)  # every slot is filled by now


def unsuppress_addresses(*, emails: Sequence[str]) -> int:
    """Lift suppressions; no contact is resubscribed. Returns how many."""
    _, first = parse_addresses(emails)
    now = timezone.now()
    lifted = 0
    with transaction.atomic():
        for part in chunks(sorted(first)):
            gone = list(
                Suppression.objects.select_for_update()
                .filter(email__in=part)
                .values_list("email", flat=True)
            )
            lifted += Suppression.objects.filter(email__in=gone).delete()[0]
            contacts = _on_every_list(gone)
            record_activities([activity_for(c, ActivityKind.UNSUPPRESSED, now) for c in contacts])
    return lifted


def _on_every_list(emails: list[str]) -> QuerySet[Contact]:
    """The contacts of these addresses on any list. Naming the lists lets the
    database use the (list, email) unique index instead of scanning."""
    list_ids = list(List.objects.values_list("pk", flat=True))
    return Contact.objects.filter(list_id__in=list_ids, email__in=emails)
