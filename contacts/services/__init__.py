"""Every write to contacts goes through these services. Each has a batch form
doing set-based work for many contacts at once, and records activity through
``contacts.hooks.record_activities``.

The writes of a list or a profile field that concern the values contacts hold
are here too (deleting a list; changing, clearing or deleting a field); the
rest of the lists app's writes are ``lists.services``."""

from contacts.services.activity import email_activity
from contacts.services.address_change import change_address, change_addresses
from contacts.services.blocking import (
    ban_address,
    ban_addresses,
    suppress_addresses,
    unban_addresses,
    unsuppress_addresses,
)
from contacts.services.cleanup import clear_field_values, delete_field, delete_list
from contacts.services.common import ContactResult, Outcome
from contacts.services.events import fire_event, fire_events
from contacts.services.fields import (
    ValuesOfAnotherType,
    ValuesTooLong,
    change_field,
    change_field_type,
    check_values_fit,
)
from contacts.services.profile import UpdateType, merge_profile, update_profile, update_profiles
from contacts.services.recipients import transactional_recipient
from contacts.services.subscriptions import (
    subscribe_contact,
    subscribe_contacts,
    unsubscribe_contact,
    unsubscribe_contacts,
)

__all__ = [
    "ContactResult",
    "Outcome",
    "UpdateType",
    "ValuesOfAnotherType",
    "ValuesTooLong",
    "ban_address",
    "ban_addresses",
    "change_address",
    "change_addresses",
    "change_field",
    "change_field_type",
    "check_values_fit",
    "clear_field_values",
    "delete_field",
    "delete_list",
    "email_activity",
    "fire_event",
    "fire_events",
    "merge_profile",
    "subscribe_contact",
    "subscribe_contacts",
    "suppress_addresses",
    "transactional_recipient",
    "unban_addresses",
    "unsubscribe_contact",
    "unsubscribe_contacts",
    "unsuppress_addresses",
    "update_profile",
    "update_profiles",
]
