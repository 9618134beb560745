"""The words of the activity ``contacts`` records itself: subscriptions,
profile values, address changes, external events, bans and suppressions
(see ``contacts.activity_words``). Registered by ``ContactsConfig.ready``."""

from __future__ import annotations

from collections.abc import Mapping

from contacts.activity_words import (
    EMPTY,
    Names,
    add_names,
    detail,
    detail_refs,
    details,
    kinds_refs,
    pairs,
    quote,
    value_words,
    with_method,
    word_kind,
)
from contacts.models import Activity, ActivityKind
from lists.models import DataType, Event, ProfileField

#: Consent to resubscribe, as the admin records it in the activity's details.
CONSENT_BY = "consent_confirmed_by"
#: What an import puts in the data of the events it fires.
IMPORT_KEYS = ("import_id",)


def subscribed(activity: Activity, names: Names) -> str:
    return with_method("Subscribed for the first time", activity)


def resubscribed(activity: Activity, names: Names) -> str:
    text = with_method("Resubscribed", activity)
    confirmed_by = detail(activity, CONSENT_BY)
    return f"{text}, consent confirmed by {confirmed_by}" if confirmed_by else text


def pending(activity: Activity, names: Names) -> str:
    return with_method("Asked to subscribe; waiting for the double opt-in confirmation", activity)


def unsubscribed(activity: Activity, names: Names) -> str:
    return with_method("Unsubscribed", activity)


def profile_updated(activity: Activity, names: Names) -> str:
    changes = details(activity).get("changes")
    if not isinstance(changes, dict) or not changes:
        return "Profile updated"
    told = []
    for key, change in changes.items():
        field = names.get("field", key)
        name = field.name if isinstance(field, ProfileField) else "a field since deleted"
        old, new = (
            (change.get(side) for side in ("old", "new"))
            if isinstance(change, dict)
            else (None, None)
        )
        told.append(f"{name} from {_profile_value(field, old)} to {_profile_value(field, new)}")
    return "Profile updated: " + "; ".join(told)


def _profile_value(field: object, value: object) -> str:
    """A stored profile value as the field's type reads: on/off as yes/no."""
    if value is None or value == "":
        return EMPTY
    if isinstance(field, ProfileField):
        if field.data_type in (DataType.CHECK_BOX, DataType.RADIO_BUTTON):
            return {"on": "yes", "off": "no"}.get(str(value), value_words(value))
        if field.data_type in (DataType.NUMERIC, DataType.DATE):
            return str(value)
    return value_words(value)


def address_changed(activity: Activity, names: Names) -> str:
    old = detail(activity, "old_email")
    return f"Address changed from {old} to {activity.email}" if old else "Address changed"


def event_fired(activity: Activity, names: Names) -> str:
    name = names.quoted("event", details(activity).get("event_id"))
    if name is None and (stored := detail(activity, "event_name")):
        name = quote(stored)
    text = f"Event {name} fired" if name else "An event fired"
    data = details(activity).get("data")
    if not isinstance(data, Mapping) or not data:
        return text
    if any(key in data for key in IMPORT_KEYS):
        text += " by a list import"
        data = {key: value for key, value in data.items() if key not in IMPORT_KEYS}
    return f"{text} with {pairs(data)}" if data else text


def banned(activity: Activity, names: Names) -> str:
    return _with_reason("Banned from the list", activity)


def suppressed(activity: Activity, names: Names) -> str:
    return _with_reason("Suppressed on every list", activity)


def _with_reason(text: str, activity: Activity) -> str:
    reason = detail(activity, "reason")
    return f"{text} (reason: {quote(reason)})" if reason else text


def _changed_keys(activity: Activity) -> list[str]:
    """The keys (field ids) of the profile values an update changed."""
    changes = details(activity).get("changes")
    return list(changes) if isinstance(changes, dict) else []


def register() -> None:
    """Word contacts' own kinds, and name the profile fields and events their
    details refer to."""
    add_names(
        "field",
        refs=kinds_refs({ActivityKind.PROFILE_UPDATED}, _changed_keys),
        lookup=lambda ids: ProfileField.objects.in_bulk(ids),
    )
    add_names(
        "event",
        refs=detail_refs("event_id"),
        lookup=lambda ids: dict(Event.objects.filter(pk__in=ids).values_list("pk", "name")),
    )
    word_kind(ActivityKind.SUBSCRIBED, subscribed)
    word_kind(ActivityKind.RESUBSCRIBED, resubscribed)
    word_kind(ActivityKind.PENDING, pending)
    word_kind(ActivityKind.UNSUBSCRIBED, unsubscribed)
    word_kind(ActivityKind.PROFILE_UPDATED, profile_updated)
    word_kind(ActivityKind.ADDRESS_CHANGED, address_changed)
    word_kind(ActivityKind.EVENT_FIRED, event_fired)
    word_kind(ActivityKind.BANNED, banned)
    word_kind(ActivityKind.UNBANNED, lambda activity, names: "Ban lifted")
    word_kind(ActivityKind.SUPPRESSED, suppressed)
    word_kind(ActivityKind.UNSUPPRESSED, lambda activity, names: "Suppression lifted")
