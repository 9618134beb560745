"""The profile fields of one list, loaded once, to resolve and clean values."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils.functional import cached_property

from lists.field_types import clean_value
from lists.models import List, ProfileField, ProfileFieldGroup

FieldRef = ProfileField | int | str
#: Values by field reference, keyed all by fields, all by ids, all by names or
#: mixed (a Mapping is invariant in its key, so each is spelt out).
FieldValues = (
    Mapping[ProfileField, object]
    | Mapping[int, object]
    | Mapping[str, object]
    | Mapping[FieldRef, object]
)


class ProfileSchema:
    """Resolves field references (a ProfileField, its id, or its name in any
    case) of one list and cleans whole mappings of values at once."""

    def __init__(self, list_obj: List) -> None:
        self.list = list_obj
        # Unordered, without the group join: resolving and cleaning values (every
        # API call, every import) needs no order; ``fields`` sorts when asked.
        found = list(ProfileField.objects.filter(list=list_obj).order_by())
        self.by_id = {field.pk: field for field in found}
        self.by_name = {field.name.lower(): field for field in found}

    @cached_property
    def fields(self) -> list[ProfileField]:
        """The list's fields in display order: by group, then within it."""
        group_positions = dict(
            ProfileFieldGroup.objects.filter(list=self.list).values_list("id", "position")
        )
        return sorted(
            self.by_id.values(),
            key=lambda f: (group_positions.get(f.group_id, 0), f.group_id, f.position, f.pk),
        )

    def resolve(self, ref: FieldRef) -> ProfileField:
        field: ProfileField | None
        if isinstance(ref, ProfileField):
            field = self.by_id.get(ref.pk)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            field = self.by_id.get(ref)
        elif isinstance(ref, str):
            field = self.by_name.get(ref.strip().lower())
        else:
            field = None
        if field is None:
            raise ValidationError(
                "Unknown profile field '%(ref)s' on list '%(list)s'.",
                code="unknown_profile_field",
                params={"ref": getattr(ref, "name", ref), "list": self.list.name},
            )
        return field

    def clean(self, values: FieldValues) -> dict[str, str | None]:
        """Return ``{field key: canonical value or None}``; raise one
        ValidationError listing every unknown field and every bad value."""
        cleaned: dict[str, str | None] = {}
        errors: list[ValidationError] = []
        for ref, value in values.items():
            try:
                field = self.resolve(ref)
                if field.key in cleaned:
                    raise ValidationError(
                        "Profile field '%(field)s' is given twice.",
                        code="profile_field_given_twice",
                        params={"field": field.name},
                    )
                cleaned[field.key] = clean_value(field, value)
            except ValidationError as error:
                errors.append(error)
        if errors:
            raise ValidationError(errors)
        return cleaned
