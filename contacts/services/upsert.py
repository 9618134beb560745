"""Create-or-update of one contact with Listrak's Contact API rules."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError

from contacts.addresses import normalise_email
from contacts.models import Contact, SubscribeMethod, SubscriptionState, UnsubscribeMethod
from contacts.optin import request_confirmations
from contacts.services.address_change import change_address
from contacts.services.common import Outcome, retry_on_conflict
from contacts.services.events import fire_events
from contacts.services.profile import UpdateType, update_profiles
from contacts.services.subscriptions import _subscribe as subscribe_in_transaction
from contacts.services.subscriptions import unsubscribe_contacts
from lists.models import Event, List
from lists.profile_schema import FieldValues, ProfileSchema


def _refuse(message: str, code: str, **params: object) -> ValidationError:
    return ValidationError(message, code=code, params=params)


def save_contact(
    *,
    email_list: List,
    email: str,
    state: str | None = None,
    external_contact_id: str | None = None,
    values: FieldValues | None = None,
    events: Sequence[Event] = (),
    override_unsubscribe: bool = False,
    subscribed_by_contact: bool = False,
    double_opt_in: bool = False,
    update_type: UpdateType = UpdateType.UPDATE,
    new_email: str | None = None,
) -> Contact:
    """Create or update the contact of ``email`` on ``email_list`` as
    Listrak's ``POST List/{listId}/Contact`` does, and return it.

    - ``new_email`` changes the address of the existing, subscribed contact
      (no events or profile values may come with it).
    - ``state="Unsubscribed"`` unsubscribes it (no events or profile values).
    - Otherwise it is subscribed if new (``Pending`` with a confirmation email
      when ``double_opt_in``), resubscribed only with ``override_unsubscribe``,
      its profile updated by ``update_type`` and ``events`` fired for it.

    Everything is checked before anything is written, in one transaction: a
    refusal raises ValidationError with Listrak's error code and changes nothing.
    """
    values = values or {}
    email = normalise_email(email)
    limit = Contact._meta.get_field("external_contact_id").max_length
    assert limit is not None  # a CharField's
    if external_contact_id is not None and len(external_contact_id) > limit:
        raise _refuse(
            "externalContactID is longer than %(limit)s characters.",
            "ERROR_INVALID_PARAMETER",
            limit=limit,
        )
    schema = ProfileSchema(email_list)
    cleaned = schema.clean(values) if values else {}
    # The whole post is one transaction, retried once if a concurrent post created
    # the same contact first; the services below run inside it without savepoints.
    return retry_on_conflict(
        lambda: _save(
            email_list,
            email,
            state,
            external_contact_id,
            values,
            cleaned,
            schema,
            events,
            override_unsubscribe=override_unsubscribe,
            subscribed_by_contact=subscribed_by_contact,
            double_opt_in=double_opt_in,
            update_type=update_type,
            new_email=new_email,
        )
    )


def _save(
    email_list: List,
    email: str,
    state: str | None,
    external_contact_id: str | None,
    values: FieldValues,
    cleaned: dict[str, str | None],
    schema: ProfileSchema,
    events: Sequence[Event],
    *,
    override_unsubscribe: bool,
    subscribed_by_contact: bool,
    double_opt_in: bool,
    update_type: UpdateType,
    new_email: str | None,
) -> Contact:
    if new_email is not None:
        return _change_address(email_list, email, new_email, cleaned, events, state)
    if state == SubscriptionState.UNSUBSCRIBED:
        return _unsubscribe(email_list, email, cleaned, events, external_contact_id)
    if state not in (None, SubscriptionState.SUBSCRIBED):
        raise _refuse(
            "subscriptionState is Subscribed or Unsubscribed, not %(state)s.",
            "ERROR_INVALID_PARAMETER",
            state=state,
        )
    contact = _subscribe(
        email_list,
        email,
        values,
        cleaned,
        events,
        schema=schema,
        override=override_unsubscribe,
        by_contact=subscribed_by_contact,
        double_opt_in=double_opt_in,
        update_type=update_type,
    )
    _set_external_id(contact, external_contact_id)
    if events:
        for event in events:
            fire_events(event=event, contacts=[contact])
    return contact


def _subscribe(
    email_list: List,
    email: str,
    values: FieldValues,
    cleaned: dict[str, str | None],
    events: Sequence[Event],
    *,
    schema: ProfileSchema,
    override: bool,
    by_contact: bool,
    double_opt_in: bool,
    update_type: UpdateType,
) -> Contact:
    method = SubscribeMethod.SUBSCRIPTION_POINT if by_contact else SubscribeMethod.API
    (result,) = subscribe_in_transaction(
        email_list, [email], method, override, double_opt_in, {email: cleaned}
    )
    result.raise_error()
    # Refusals decided by the contact's state; raising rolls back whatever was written.
    if result.outcome == Outcome.ALREADY_PENDING:
        raise _refuse(
            "%(email)s is already waiting to confirm its subscription.",
            "ERROR_PENDING_EMAIL_ADDRESS",
            email=email,
        )
    if double_opt_in and result.outcome == Outcome.ALREADY_SUBSCRIBED:
        raise _refuse(
            "%(email)s is already subscribed; there is nothing to confirm.",
            "ERROR_SUBSCRIBED_EMAIL_ADDRESS",
            email=email,
        )
    if result.outcome == Outcome.PREVIOUSLY_UNSUBSCRIBED and events:
        raise _refuse(
            "%(email)s is unsubscribed, so events cannot be fired for it; "
            "pass overrideUnsubscribe=true to resubscribe it.",
            "ERROR_UPDATE_UNSUBSCRIBE_WITH_EVENTS",
            email=email,
        )
    contact = result.contact
    assert contact is not None
    if not result.created and cleaned:
        for changed in update_profiles(
            email_list=email_list,
            updates=[(contact, values)],
            update_type=update_type,
            schema=schema,
            locked=True,  # subscribing locked and read it in this transaction
        ):
            contact.profile, contact.updated_at = changed.profile, changed.updated_at
    if result.outcome == Outcome.PENDING:
        request_confirmations(contacts=[contact])
    return contact


def _unsubscribe(
    email_list: List,
    email: str,
    cleaned: dict[str, str | None],
    events: Sequence[Event],
    external_contact_id: str | None,
) -> Contact:
    if events:
        raise _refuse(
            "Events cannot be fired while unsubscribing %(email)s.",
            "ERROR_UNSUBSCRIBE_WITH_EVENTS",
            email=email,
        )
    if cleaned:
        raise _refuse(
            "Profile values cannot be written while unsubscribing %(email)s.",
            "ERROR_UNSUBSCRIBE_WITH_SEGMENTATION_DATA",
            email=email,
        )
    (result,) = unsubscribe_contacts(
        email_list=email_list, emails=[email], method=UnsubscribeMethod.API
    )
    result.raise_error()
    if result.outcome == Outcome.ALREADY_UNSUBSCRIBED:
        raise _refuse(
            "%(email)s has already unsubscribed from list '%(list)s'.",
            "ERROR_UNSUBSCRIBED_EMAIL_ADDRESS",
            email=email,
            list=email_list.name,
        )
    assert result.contact is not None
    _set_external_id(result.contact, external_contact_id)
    return result.contact


def _change_address(
    email_list: List,
    email: str,
    new_email: str,
    cleaned: dict[str, str | None],
    events: Sequence[Event],
    state: str | None,
) -> Contact:
    if events:
        raise _refuse(
            "Events cannot be fired while changing the address of %(email)s.",
            "ERROR_CHANGE_ADDRESS_WITH_EVENTS",
            email=email,
        )
    if cleaned:
        raise _refuse(
            "Profile values cannot be written while changing the address of %(email)s.",
            "ERROR_CHANGE_ADDRESS_WITH_SEGMENTATION_DATA",
            email=email,
        )
    if state == SubscriptionState.UNSUBSCRIBED:
        raise _refuse(
            "An address change cannot also unsubscribe %(email)s.",
            "ERROR_INVALID_PARAMETER",
            email=email,
        )
    contact = Contact.objects.filter(list=email_list, email=email).first()
    if contact is None:
        raise _refuse(
            "%(email)s is not on list '%(list)s', so its address cannot be changed.",
            "ERROR_NOT_SUBSCRIBED_EMAIL_ADDRESS",
            email=email,
            list=email_list.name,
        )
    return change_address(contact=contact, new_email=new_email)


def _set_external_id(contact: Contact, external_contact_id: str | None) -> None:
    if external_contact_id is None or external_contact_id == contact.external_contact_id:
        return
    contact.external_contact_id = external_contact_id
    Contact.objects.filter(pk=contact.pk).update(external_contact_id=external_contact_id)
