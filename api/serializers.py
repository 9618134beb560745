"""The base of every request and response shape: camelCase names, matched
without regard to case (Listrak's .NET clients send ``EmailAddress``), read-only
fields ignored on input and unknown fields refused by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ApiSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, not {type(data).__name__}."]}
            )
        # The field names (iterating a BindingDict yields them; its stubs say fields).
        names = list(self.fields.keys())
        by_lower = {name.lower(): name for name in names}
        normalised: dict[str, Any] = {}
        unknown: list[str] = []
        for key, value in data.items():
            name = by_lower.get(str(key).lower())
            if name is None:
                unknown.append(str(key))
            elif name in normalised:
                raise serializers.ValidationError({name: ["This field is given twice."]})
            elif not self.fields[name].read_only:
                normalised[name] = value
        if unknown:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"Unknown field{'s' if len(unknown) > 1 else ''} "
                        + ", ".join(repr(k) for k in unknown)
                        + "; the fields are "
                        + ", ".join(self.fields)
                        + "."
                    ]
                }
            )
        return super().to_internal_value(normalised)


@overload
def validated(
    serializer_class: type[ApiSerializer], data: Any, *, many: Literal[True], **kwargs: Any
) -> list[dict[str, Any]]: ...
@overload
def validated(
    serializer_class: type[ApiSerializer], data: Any, *, many: Literal[False] = ..., **kwargs: Any
) -> dict[str, Any]: ...
def validated(serializer_class: type[ApiSerializer], data: Any, **kwargs: Any) -> Any:
    """Validate ``data`` (a list of them with ``many=True``); raises
    ValidationError (a 400 naming every problem)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Strict JSON types ---------------------------------------------------------
# DRF would read 12 as "12" and "true" as True; a Listrak body is typed JSON,
# and a value of the wrong type is refused by name like any other bad value.


class TextField(serializers.CharField):
    """A JSON string, trimmed; no unpaired surrogates (PostgreSQL can't store them)."""

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("allow_blank") and not kwargs.get("read_only"):
            # Trimmed, then refused when blank: tell the schema so.
            kwargs["validators"] = [*kwargs.get("validators", ()), _has_text]
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Expected a string, not {json_type(data)}.")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("The text holds an unpaired surrogate.") from None
        return super().to_internal_value(data)


class EmailAddressField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Expected a string, not {json_type(data)}.")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "email", "maxLength": 254})
class ContactAddressField(TextField):
    """A contact's email address. Text here: the contact services check it
    with ``contacts.addresses``, the one rule every address (imports too)
    goes through, and say what is wrong with it."""


class WholeNumberField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise serializers.ValidationError(f"Expected a whole number, not {json_type(data)}.")
        return super().to_internal_value(data)


class TrueFalseField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"Expected true or false, not {json_type(data)}.")
        return data


def json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


_has_text = RegexValidator(r"\S", "This field may not be blank.")
