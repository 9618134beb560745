"""The contact a transactional email goes to (an order confirmation, a
password reset): any address of the list but a banned or suppressed one.

An address the list does not have is added as ``NeverSubscribed``: not a
subscriber (no marketing email is ever sent to it), not once unsubscribed
(a later signup, API subscribe or import treats it as a new address, with
no consent or override needed), and counted in no subscription figure. It
gets no activity of its own: its emails' activity tells its story."""

from __future__ import annotations

from django.utils import timezone

from contacts.addresses import normalise_email
from contacts.models import Contact, SubscriptionState
from contacts.services.common import blocked_results
from lists.models import List


def transactional_recipient(*, email_list: List, email: str) -> Contact:
    """The contact of ``email`` on ``email_list``, whatever its subscription,
    made ``NeverSubscribed`` when the list has none; its profile is left as
    it is. Raises ValidationError with Listrak's code for an invalid address
    (``ERROR_INVALID_PARAMETER``), a banned one (``ERROR_BANNED_EMAIL_ADDRESS``)
    or a suppressed one (``ERROR_SUPPRESSED_EMAIL``); then nothing is written."""
    email = normalise_email(email)
    blocked = blocked_results(email_list, [email]).get(email)
    if blocked is not None:
        blocked.raise_error()
    contacts = Contact.objects.filter(list=email_list, email=email)
    contact = contacts.first()
    if contact is not None:
        return contact
    now = timezone.now()
    # Two sends to one new address at once: the second's insert waits for the
    # first's and then does nothing; both read the one row.
    Contact.objects.bulk_create(
        [
            Contact(
                list=email_list,
                email=email,
                state=SubscriptionState.NEVER_SUBSCRIBED,
                created_at=now,
                updated_at=now,
            )
        ],
        ignore_conflicts=True,
    )
    return contacts.get()
