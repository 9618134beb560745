"""Changing a contact's address (SPEC section 2, Listrak's rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.addresses import normalise_email
from contacts.hooks import record_activities
from contacts.models import (
    ActivityKind,
    Contact,
    SubscribeMethod,
    SubscriptionState,
    UnsubscribeMethod,
)
from contacts.services.common import (
    ContactResult,
    Outcome,
    activity_for,
    blocked_results,
    insert_contacts,
    lock_contacts,
    retry_on_conflict,
)
from contacts.services.subscriptions import mark_unsubscribed, save_unsubscribed
from core.bulk import update_rows
from lists.models import List

_EXISTING_NEW_ADDRESS = {
    SubscriptionState.SUBSCRIBED: (
        "is already subscribed to",
        "ERROR_SUBSCRIBED_NEW_EMAIL_ADDRESS",
    ),
    SubscriptionState.UNSUBSCRIBED: (
        "has unsubscribed from",
        "ERROR_UNSUBSCRIBED_NEW_EMAIL_ADDRESS",
    ),
    SubscriptionState.PENDING: ("is pending double opt-in on", "ERROR_PENDING_NEW_EMAIL_ADDRESS"),
}


#: What a contact moved to an address only ever sent transactional email writes on its row.
_MOVED_FIELDS = ["state", "subscribed_at", "subscribe_method", "updated_at"]


def change_addresses(
    *, email_list: List, changes: Sequence[tuple[Contact, str]]
) -> list[ContactResult]:
    """Move contacts of ``email_list`` to new addresses, one result per pair.

    The old contact is unsubscribed (method ``Address Change``) and a new
    contact is subscribed with the old one's profile data and external id.
    Refused, changing nothing for that pair: an unsubscribed old contact, an
    invalid, banned or suppressed new address, or one already on the list (one
    only ever sent transactional email is not: its row becomes the new contact).
    The new contact gets an ``address_changed`` activity naming the old one.
    """
    return retry_on_conflict(lambda: _change(email_list, changes))


def change_address(*, contact: Contact, new_email: str) -> Contact:
    """Change one contact's address; returns the new contact or raises
    ValidationError with the Listrak error code."""
    (result,) = change_addresses(email_list=contact.list, changes=[(contact, new_email)])
    result.raise_error()
    contact.refresh_from_db()
    assert result.contact is not None
    return result.contact


def _refusal(email: str, message: str, code: str, **params: object) -> ContactResult:
    return ContactResult(
        email,
        Outcome.INVALID,
        error=ValidationError(message, code=code, params={"email": email, **params}),
    )


def _change(email_list: List, changes: Sequence[tuple[Contact, str]]) -> list[ContactResult]:
    results: list[ContactResult | None] = [None] * len(changes)
    wanted: dict[str, int] = {}
    for index, (contact, raw) in enumerate(changes):
        try:
            new_email = normalise_email(raw)
        except ValidationError as error:
            results[index] = ContactResult(str(raw), Outcome.INVALID, error=error)
            continue
        if contact.list_id != email_list.pk:
            results[index] = _refusal(
                contact.email, "%(email)s is not on this list.", "ERROR_INVALID_PARAMETER"
            )
        elif new_email == contact.email:
            results[index] = _refusal(
                new_email,
                "The new address %(email)s is the contact's current address.",
                "ERROR_INVALID_PARAMETER",
            )
        elif new_email in wanted:
            results[index] = _refusal(
                new_email,
                "%(email)s is the new address of two contacts.",
                "ERROR_INVALID_PARAMETER",
            )
        else:
            wanted[new_email] = index

    old_emails = {changes[i][0].email for i in wanted.values()}
    locked = lock_contacts(email_list, old_emails | wanted.keys())
    blocked = blocked_results(email_list, wanted, new=True)
    now = timezone.now()
    moved: list[tuple[Contact, Contact]] = []
    for new_email, index in wanted.items():
        old = locked.get(changes[index][0].email)
        if old is None or old.state != SubscriptionState.SUBSCRIBED:
            results[index] = _refusal(
                changes[index][0].email,
                "%(email)s is not subscribed, so its address cannot be changed.",
                "ERROR_CHANGE_ADDRESS_CONTACT_UNSUBSCRIBED",
            )
        elif new_email in blocked:
            results[index] = blocked[new_email]
        elif new_email in locked and locked[new_email].state in _EXISTING_NEW_ADDRESS:
            verb, code = _EXISTING_NEW_ADDRESS[SubscriptionState(locked[new_email].state)]
            results[index] = _refusal(
                new_email, f"%(email)s {verb} list '%(list)s'.", code, list=email_list.name
            )
        else:
            # A new address; or one only ever sent transactional email, whose row
            # the moved contact takes over as if it were new.
            new = locked.get(new_email) or Contact(list=email_list, email=new_email, created_at=now)
            new.external_contact_id = old.external_contact_id
            new.state = SubscriptionState.SUBSCRIBED
            new.subscribed_at = now
            new.subscribe_method = SubscribeMethod.ADDRESS_CHANGE
            new.profile = dict(old.profile)
            new.updated_at = now
            mark_unsubscribed(old, now=now, method=UnsubscribeMethod.ADDRESS_CHANGE)
            moved.append((old, new))
            results[index] = ContactResult(new_email, Outcome.ADDRESS_CHANGED, new)

    insert_contacts([new for _, new in moved if new.pk is None])
    taken_over = [new for _, new in moved if new.pk is not None]
    update_rows(taken_over, [*_MOVED_FIELDS, "external_contact_id", "profile"])
    save_unsubscribed([old for old, _ in moved], now=now, method=UnsubscribeMethod.ADDRESS_CHANGE)
    record_activities(
        [
            activity_for(
                new, ActivityKind.ADDRESS_CHANGED, now, old_email=old.email, old_contact_id=old.pk
            )
            for old, new in moved
        ]
    )
    return cast(list[ContactResult], results)  # every slot is filled by now
