"""Taking a signup, and making a point.

A signup goes through the same services as every other subscription
(``contacts.services``): first-ever subscription rules, bans and
suppression, double opt-in, profile values by type. What the visitor sees
never depends on what became of the address; the ``Signup`` row says it, for
staff.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, OptInRequest
from contacts.optin import request_confirmations
from contacts.services import Outcome, fire_event, subscribe_contacts, update_profiles
from contacts.services.common import retry_on_conflict
from contacts.services.profile import UpdateType
from lists.models import Event
from lists.services import create_event
from signups.models import Signup, SignupOutcome, SubscriptionPoint

_OUTCOMES = {
    Outcome.SUBSCRIBED: SignupOutcome.SUBSCRIBED,
    Outcome.RESUBSCRIBED: SignupOutcome.RESUBSCRIBED,
    Outcome.PENDING: SignupOutcome.PENDING,
    Outcome.ALREADY_PENDING: SignupOutcome.PENDING,
    Outcome.ALREADY_SUBSCRIBED: SignupOutcome.ALREADY_SUBSCRIBED,
    Outcome.PREVIOUSLY_UNSUBSCRIBED: SignupOutcome.KEPT_UNSUBSCRIBED,
}
#: The outcomes after which the contact is subscribed, so the event fires now.
_FIRES_NOW = {
    SignupOutcome.SUBSCRIBED,
    SignupOutcome.RESUBSCRIBED,
    SignupOutcome.ALREADY_SUBSCRIBED,
}
#: A pending address sent again gets another confirmation email only this
#: long after the last was asked for: anyone may post anyone's address, and
#: the form must not be a way to fill someone's inbox.
CONFIRMATION_AGAIN_AFTER = datetime.timedelta(hours=1)


def sign_up(
    *,
    point: SubscriptionPoint,
    email: str,
    values: Mapping[str, str | None],
    consent: bool = False,
) -> Signup:
    """Subscribe ``email`` to the point's list with the cleaned profile
    ``values`` (by field key), fire the point's event, and record the signup.

    - A new address is subscribed (or made pending, and sent the list's
      confirmation email, when the point asks for confirmation) with the
      values; the event fires now, or when the contact confirms. One still
      pending gets the email again, at most once an hour.
    - An address already on the list keeps what it has: the values fill only
      its empty fields, so a stranger cannot overwrite someone's profile.
    - An unsubscribed address stays unsubscribed unless the point has a
      consent checkbox and it was ticked; then it is subscribed again at once,
      with the consent text recorded (as Listrak's ``overrideUnsubscribe``:
      confirmation emails are for new addresses).
    - A banned or suppressed address: nothing is written but the signup row.
    """
    override = consent and bool(point.consent_text)
    details: dict[str, object] = {"subscription_point": point.name}
    if override:
        details["consent"] = point.consent_text
    return retry_on_conflict(lambda: _sign_up(point, email, values, override, details))


def _sign_up(
    point: SubscriptionPoint,
    email: str,
    values: Mapping[str, str | None],
    override: bool,
    details: dict[str, object],
) -> Signup:
    (result,) = subscribe_contacts(
        email_list=point.list,
        emails=[email],
        method=point.method,
        override_unsubscribe=override,
        double_opt_in=point.double_opt_in,
        initial_profiles={email: values},
        details=details,
    )
    outcome = _OUTCOMES.get(result.outcome, SignupOutcome.REFUSED)
    contact = result.contact if result.error is None else None
    if contact is None:
        outcome = SignupOutcome.REFUSED
    elif outcome != SignupOutcome.KEPT_UNSUBSCRIBED:
        if not result.created and any(v is not None for v in values.values()):
            update_profiles(
                email_list=point.list,
                # By field id: a text key would be read as a field's name.
                updates=[(contact, {int(key): value for key, value in values.items()})],
                update_type=UpdateType.APPEND,
                locked=True,  # subscribe_contacts locked and read it in this transaction
            )
        if outcome == SignupOutcome.PENDING and _may_ask_again(contact):
            request_confirmations(contacts=[contact])  # lost the first email? another one
        if outcome in _FIRES_NOW and point.event is not None:
            fire_event(event=point.event, contact=contact, data={"subscription_point": point.name})
    return Signup.objects.create(
        point=point,
        contact=contact,
        outcome=outcome,
        created_at=timezone.now(),
        event_pending=outcome == SignupOutcome.PENDING and point.event_id is not None,
    )


def _may_ask_again(contact: Contact) -> bool:
    since = timezone.now() - CONFIRMATION_AGAIN_AFTER
    return not OptInRequest.objects.filter(contact=contact, created_at__gte=since).exists()


def refuse_bot(*, point: SubscriptionPoint, outcome: SignupOutcome) -> Signup:
    """Record a post refused as a bot's: counted in the point's report, and
    nothing else is written."""
    return Signup.objects.create(point=point, outcome=outcome)


def event_for_new_point(point: SubscriptionPoint) -> Event:
    """The event a point fires when staff chose none: “Signup: <name>” on its
    list (the existing one of that name, if any)."""
    name = f"Signup: {point.name}"[:100]
    existing = Event.objects.filter(list=point.list, name__iexact=name).first()
    return existing or create_event(email_list=point.list, name=name)


@transaction.atomic
def save_point(point: SubscriptionPoint) -> SubscriptionPoint:
    """Save a point, giving it its own event when it has none."""
    if point.event_id is None:
        point.event = event_for_new_point(point)
    point.save()
    return point
