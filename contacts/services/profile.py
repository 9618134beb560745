"""Writing profile values, with Listrak's three update types."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import ActivityKind, Contact
from contacts.services.common import activity_for, chunks
from core.bulk import update_rows
from lists.models import List
from lists.profile_schema import FieldValues, ProfileSchema

Values = FieldValues


class UpdateType(enum.StrEnum):
    UPDATE = "Update"  # write the given values; blank ones are ignored
    APPEND = "Append"  # write given values only into fields that are empty
    OVERWRITE = "Overwrite"  # write the given values; blank ones clear the field


def merge_profile(
    current: Mapping[str, str], given: Mapping[str, str | None], update_type: UpdateType
) -> dict[str, str]:
    """The profile after applying cleaned ``given`` values (``None`` = blank)."""
    merged = dict(current)
    for key, value in given.items():
        if value is None:
            if update_type == UpdateType.OVERWRITE:
                merged.pop(key, None)
        elif update_type != UpdateType.APPEND or merged.get(key) in (None, ""):
            merged[key] = value
    return merged


def update_profiles(
    *,
    email_list: List,
    updates: Sequence[tuple[Contact, Values]],
    update_type: UpdateType = UpdateType.UPDATE,
    schema: ProfileSchema | None = None,
    locked: bool = False,
) -> list[Contact]:
    """Apply profile values to many contacts of ``email_list`` at once.

    Values are keyed by field, field id or field name and coerced by the
    field's type. Every value of every contact is validated first: one unknown
    field or bad value raises a ValidationError naming the contact, the field
    and the problem, and nothing is written. Returns the contacts whose profile
    changed; each gets a ``profile_updated`` activity with the old and new
    values.

    ``locked``: the caller has read these contacts with ``select_for_update``
    in the current transaction, so they are current and are not read again.
    """
    update_type = UpdateType(update_type)
    schema = schema or ProfileSchema(email_list)
    cleaned: dict[int, dict[str, str | None]] = {}
    errors: list[ValidationError] = []
    for contact, values in updates:
        if contact.list_id != email_list.pk:
            errors.append(
                ValidationError(
                    "%(email)s is not on list '%(list)s'.",
                    code="contact_not_on_list",
                    params={"email": contact.email, "list": email_list.name},
                )
            )
            continue
        try:
            cleaned.setdefault(contact.pk, {}).update(schema.clean(values))
        except ValidationError as error:
            errors.extend(
                ValidationError(f"{contact.email}: {message}", code="invalid_profile_value")
                for message in error.messages
            )
    if errors:
        raise ValidationError(errors)
    given = {contact.pk: contact for contact, _ in updates} if locked else None
    return _write(cleaned, update_type, given)


def update_profile(
    *, contact: Contact, values: Values, update_type: UpdateType = UpdateType.UPDATE
) -> bool:
    """Apply profile values to one contact; True when something changed.
    Raises ValidationError naming the field for an unknown field or bad value."""
    changed = update_profiles(
        email_list=contact.list, updates=[(contact, values)], update_type=update_type
    )
    if changed:
        contact.profile = changed[0].profile
        contact.updated_at = changed[0].updated_at
    return bool(changed)


def _write(
    cleaned: dict[int, dict[str, str | None]],
    update_type: UpdateType,
    locked: dict[int, Contact] | None,
) -> list[Contact]:
    now = timezone.now()
    changed: list[Contact] = []
    activities = []
    with transaction.atomic(savepoint=False):  # a caller's transaction, or its own
        for part in chunks(sorted(cleaned)):
            # Re-read under a lock: two writers of one profile queue instead of
            # one silently undoing the other's values.
            current = (
                [locked[pk] for pk in part]
                if locked is not None
                else Contact.objects.select_for_update().filter(pk__in=part).order_by("pk")
            )
            for contact in current:
                merged = merge_profile(contact.profile, cleaned[contact.pk], update_type)
                if merged == contact.profile:
                    continue
                changes = {
                    key: {"old": contact.profile.get(key), "new": merged.get(key)}
                    for key in sorted(contact.profile.keys() | merged.keys())
                    if contact.profile.get(key) != merged.get(key)
                }
                contact.profile = merged
                contact.updated_at = now
                changed.append(contact)
                activities.append(
                    activity_for(
                        contact,
                        ActivityKind.PROFILE_UPDATED,
                        now,
                        update_type=str(update_type),
                        changes=changes,
                    )
                )
        update_rows(changed, ["profile", "updated_at"])
        record_activities(activities)
    return changed
