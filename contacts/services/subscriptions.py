"""Subscribing and unsubscribing, one contact or many at once."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import cast

from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from contacts.services.common import (
    ContactResult,
    Outcome,
    activity_for,
    blocked_results,
    insert_contacts,
    lock_contacts,
    parse_addresses,
    retry_on_conflict,
)
from core.bulk import update_rows
from lists.models import List

_CONTACT_STATE_FIELDS = [
    "state",
    "subscribed_at",
    "resubscribed_at",
    "subscribe_method",
    "unsubscribed_at",
    "unsubscribe_method",
    "updated_at",
]


def subscribe_contacts(
    *,
    email_list: List,
    emails: Sequence[str],
    method: str,
    override_unsubscribe: bool = False,
    double_opt_in: bool = False,
    initial_profiles: Mapping[str, Mapping[str, str | None]] | None = None,
    details: Mapping[str, object] | None = None,
) -> list[ContactResult]:
    """Subscribe many addresses to ``email_list``, returning one result per
    address in order.

    ``initial_profiles`` gives, by normalised address, the cleaned profile
    values (``{field key: value or None}``) a contact *created* here starts
    with; they are part of its creation, not a profile update. Existing
    contacts are not touched by it: use ``update_profiles``.

    - A new address is created ``Subscribed`` (``Subscribed`` outcome, a
      first-ever subscription), or ``Pending`` when ``double_opt_in``. So is
      a contact that was only ever sent transactional email
      (``NeverSubscribed``): it is a new address to every subscription.
    - A pending contact is confirmed: its first-ever subscription.
    - An unsubscribed contact stays unsubscribed (``PreviouslyUnsubscribed``)
      unless ``override_unsubscribe``; then it is ``Resubscribed`` (or
      ``Subscribed`` if it had never been subscribed before).
    - Banned, suppressed and invalid addresses are refused with an error and
      nothing is written for them; a repeated address is ``Skipped``.

    ``details`` go into each subscribe activity (say, who confirmed the
    person's consent to a resubscribe).
    """
    profiles = initial_profiles or {}
    return retry_on_conflict(
        lambda: _subscribe(
            email_list, emails, method, override_unsubscribe, double_opt_in, profiles, details or {}
        )
    )


def subscribe_contact(
    *,
    email_list: List,
    email: str,
    method: str,
    override_unsubscribe: bool = False,
    double_opt_in: bool = False,
    details: Mapping[str, object] | None = None,
) -> ContactResult:
    """Subscribe one address; raises ValidationError (with a Listrak error
    code) for an invalid, banned or suppressed address."""
    (result,) = subscribe_contacts(
        email_list=email_list,
        emails=[email],
        method=method,
        override_unsubscribe=override_unsubscribe,
        double_opt_in=double_opt_in,
        details=details,
    )
    result.raise_error()
    return result


def unsubscribe_contacts(
    *,
    email_list: List,
    emails: Sequence[str],
    method: str,
    details: Mapping[str, object] | None = None,
) -> list[ContactResult]:
    """Unsubscribe many addresses with ``method`` (see ``UnsubscribeMethod``).
    An address not on the list, or only ever sent transactional email
    (``NeverSubscribed``), is refused with ``NotOnList``. ``details`` go
    into each ``unsubscribed`` activity (say, the email whose link was used)."""
    return retry_on_conflict(lambda: _unsubscribe(email_list, emails, method, details or {}))


def unsubscribe_contact(
    *, contact: Contact, method: str, details: Mapping[str, object] | None = None
) -> ContactResult:
    """Unsubscribe one contact; already unsubscribed is not an error."""
    (result,) = unsubscribe_contacts(
        email_list=contact.list, emails=[contact.email], method=method, details=details
    )
    result.raise_error()
    if result.contact is not None:
        contact.refresh_from_db()
    return result


def _subscribe(
    email_list: List,
    emails: Sequence[str],
    method: str,
    override: bool,
    double_opt_in: bool,
    profiles: Mapping[str, Mapping[str, str | None]],
    details: Mapping[str, object] | None = None,
) -> list[ContactResult]:
    results, first = parse_addresses(emails)
    now = timezone.now()
    blocked = blocked_results(email_list, first)
    existing = lock_contacts(email_list, first.keys() - blocked.keys())
    created: list[Contact] = []
    changed: list[Contact] = []
    entered: list[Contact] = []  # never subscribed before, entering as new
    activities: list[Activity] = []
    for email, index in first.items():
        if email in blocked:
            results[index] = blocked[email]
            continue
        contact = existing.get(email)
        initial = {k: v for k, v in profiles.get(email, {}).items() if v is not None}
        fresh = contact is None or contact.state == SubscriptionState.NEVER_SUBSCRIBED
        if contact is None:
            contact = Contact(list=email_list, email=email, profile=initial, created_at=now)
            outcome = _enter_new(contact, now=now, method=method, double_opt_in=double_opt_in)
            created.append(contact)
        elif contact.state == SubscriptionState.NEVER_SUBSCRIBED:
            # Only ever sent transactional email: it enters as a new address does,
            # starting with the given values (its profile is never a request's).
            contact.profile = {**contact.profile, **initial}
            outcome = _enter_new(contact, now=now, method=method, double_opt_in=double_opt_in)
            entered.append(contact)
        else:
            outcome = _enter_existing(
                contact, now=now, method=method, override=override, double_opt_in=double_opt_in
            )
            if outcome in (Outcome.SUBSCRIBED, Outcome.RESUBSCRIBED):
                changed.append(contact)
        results[index] = ContactResult(email, outcome, contact, created=fresh)
        kind = _ACTIVITY_OF.get(outcome)
        if kind is not None:
            activities.append(activity_for(contact, kind, now, method=method, **(details or {})))
    insert_contacts(created)
    update_rows(changed, _CONTACT_STATE_FIELDS)
    update_rows(entered, [*_CONTACT_STATE_FIELDS, "profile"])
    record_activities(activities)
    return cast(list[ContactResult], results)  # every slot is filled by now


_ACTIVITY_OF = {
    Outcome.SUBSCRIBED: ActivityKind.SUBSCRIBED,
    Outcome.RESUBSCRIBED: ActivityKind.RESUBSCRIBED,
    Outcome.PENDING: ActivityKind.PENDING,
}


def _enter_new(
    contact: Contact, *, now: datetime.datetime, method: str, double_opt_in: bool
) -> Outcome:
    contact.subscribe_method = method
    contact.updated_at = now
    if double_opt_in:
        contact.state = SubscriptionState.PENDING
        return Outcome.PENDING
    contact.state = SubscriptionState.SUBSCRIBED
    contact.subscribed_at = now
    return Outcome.SUBSCRIBED


def _enter_existing(
    contact: Contact, *, now: datetime.datetime, method: str, override: bool, double_opt_in: bool
) -> Outcome:
    if contact.state == SubscriptionState.SUBSCRIBED:
        return Outcome.ALREADY_SUBSCRIBED
    if contact.state == SubscriptionState.PENDING and double_opt_in:
        return Outcome.ALREADY_PENDING  # still waiting for the confirmation
    if contact.state == SubscriptionState.UNSUBSCRIBED and not override:
        return Outcome.PREVIOUSLY_UNSUBSCRIBED
    contact.state = SubscriptionState.SUBSCRIBED
    contact.subscribe_method = method
    contact.updated_at = now
    if contact.subscribed_at is None:  # pending, or unsubscribed before ever subscribing
        contact.subscribed_at = now
        return Outcome.SUBSCRIBED
    contact.resubscribed_at = now
    return Outcome.RESUBSCRIBED


def _unsubscribe(
    email_list: List, emails: Sequence[str], method: str, details: Mapping[str, object]
) -> list[ContactResult]:
    results, first = parse_addresses(emails)
    existing = lock_contacts(email_list, first)
    now = timezone.now()
    changed = []
    for email, index in first.items():
        contact = existing.get(email)
        if contact is None or contact.state == SubscriptionState.NEVER_SUBSCRIBED:
            # One only ever sent transactional email has nothing to leave, as a new address.
            results[index] = ContactResult(
                email,
                Outcome.NOT_ON_LIST,
                error=ValidationError(
                    "%(email)s is not on list '%(list)s'.",
                    code="ERROR_NOT_SUBSCRIBED_EMAIL_ADDRESS",
                    params={"email": email, "list": email_list.name},
                ),
            )
        elif contact.state == SubscriptionState.UNSUBSCRIBED:
            results[index] = ContactResult(email, Outcome.ALREADY_UNSUBSCRIBED, contact)
        else:
            mark_unsubscribed(contact, now=now, method=method)
            changed.append(contact)
            results[index] = ContactResult(email, Outcome.UNSUBSCRIBED, contact)
    save_unsubscribed(changed, now=now, method=method, **details)
    return cast(list[ContactResult], results)  # every slot is filled by now


def mark_unsubscribed(contact: Contact, *, now: datetime.datetime, method: str) -> None:
    contact.state = SubscriptionState.UNSUBSCRIBED
    contact.unsubscribed_at = now
    contact.unsubscribe_method = method
    contact.updated_at = now


def save_unsubscribed(
    contacts: Sequence[Contact], *, now: datetime.datetime, method: str, **details: object
) -> None:
    """Write contacts already marked unsubscribed, and their activity."""
    update_rows(contacts, _CONTACT_STATE_FIELDS)
    record_activities(
        [
            activity_for(c, ActivityKind.UNSUBSCRIBED, now, method=method, **details)
            for c in contacts
        ]
    )
