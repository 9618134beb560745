"""Changing a profile field's type or length, which the values contacts hold
must fit. (A field's name, position and group are ``lists.services``; clearing
or deleting its values is ``contacts.services.cleanup``.)"""

from __future__ import annotations

from django.db import transaction
from django.db.models.functions import Length

from contacts.models import Contact
from lists.models import DataType, ProfileField, ProfileFieldGroup
from lists.profile_sql import ProfileText
from lists.services import Refusal, update_field

# Types whose values share one stored form (lists.field_types): a field may
# change between them while it holds values.
TEXT_TYPES = frozenset({DataType.TEXT, DataType.COMMENT_AREA, DataType.CONTENT_BLOCK})
SWITCH_TYPES = frozenset({DataType.CHECK_BOX, DataType.RADIO_BUTTON})


class ValuesOfAnotherType(Refusal):
    """Contacts hold values of the field's type, which the new one would not read."""

    code = "values_do_not_fit"
    about = "data_type"

    def __init__(self, *, field: ProfileField, data_type: DataType, holders: int) -> None:
        self.field_name, self.old_type = field.name, DataType(field.data_type)
        self.data_type, self.holders = data_type, holders
        super().__init__()

    def worded(self) -> str:
        one = self.holders == 1
        return (
            f"{_contacts(self.holders)} {'holds' if one else 'hold'} {self.old_type.label} "
            f"values in {self.field_name!r}; clear them before changing the field to "
            f"{self.data_type.label}."
        )


class ValuesTooLong(Refusal):
    """Contacts hold values of the field longer than its new length."""

    code = "values_do_not_fit"
    about = "max_length"

    def __init__(self, *, field: ProfileField, max_length: int, holders: int) -> None:
        self.field_name, self.max_length, self.holders = field.name, max_length, holders
        super().__init__()

    def worded(self) -> str:
        one = self.holders == 1
        return (
            f"{_contacts(self.holders)} {'has a value' if one else 'have values'} of "
            f"{self.field_name!r} longer than {self.max_length} characters; "
            "shorten or clear them first."
        )


def _contacts(count: int) -> str:
    return f"{count} contact{'' if count == 1 else 's'}"


def check_values_fit(*, field: ProfileField, data_type: str, max_length: int) -> None:
    """Refuse a new type or length that the values contacts already hold in
    ``field`` would not fit (they were cleaned for the current ones):
    :class:`ValuesOfAnotherType` or :class:`ValuesTooLong`, with how many
    contacts are in the way. Reads only; counts only when refusing."""
    old_type, new_type = DataType(field.data_type), DataType(data_type)
    holders = Contact.objects.filter(list_id=field.list_id, profile__has_key=field.key)
    same_form = {old_type, new_type} <= TEXT_TYPES or {old_type, new_type} <= SWITCH_TYPES
    if old_type != new_type and not same_form and holders.exists():
        raise ValuesOfAnotherType(field=field, data_type=new_type, holders=holders.count())
    if new_type in TEXT_TYPES and max_length < field.max_length:
        longer = holders.alias(length=Length(ProfileText(field.key))).filter(length__gt=max_length)
        if longer.exists():
            raise ValuesTooLong(field=field, max_length=max_length, holders=longer.count())


def change_field_type(*, field: ProfileField, data_type: str, max_length: int) -> None:
    """Change the type and length of ``field``, refused (see
    :func:`check_values_fit`) when the values contacts hold would not fit.
    A field deleted meanwhile is ``ProfileField.DoesNotExist``."""
    with transaction.atomic():
        # Locked, so two changes of one field are checked one after the other,
        # each against the type the other left.
        locked = ProfileField.objects.select_for_update().filter(pk=field.pk).first()
        if locked is None:
            raise ProfileField.DoesNotExist(f"Profile field {field.pk} is gone.")
        check_values_fit(field=locked, data_type=data_type, max_length=max_length)
        # The field's own table, written here rather than in lists.services:
        # the rule is about contacts' values, which the lists app cannot see.
        ProfileField.objects.filter(pk=field.pk).update(data_type=data_type, max_length=max_length)
    field.data_type, field.max_length = data_type, max_length


def change_field(
    *,
    field: ProfileField,
    name: str,
    data_type: str,
    max_length: int,
    position: int,
    group: ProfileFieldGroup | None = None,
) -> None:
    """Change everything about a profile field at once (the API's PUT, the
    admin's field editor), all or nothing: the type and length as
    :func:`change_field_type`, then the name, position and group as
    ``lists.services.update_field`` (NameTaken on a clash)."""
    with transaction.atomic():
        change_field_type(field=field, data_type=data_type, max_length=max_length)
        update_field(field=field, name=name, position=position, group=group)
