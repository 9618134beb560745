"""The base of every request and response shape: camelCase names, matched
without regard to case (Listrak's .NET clients send ``EmailAddress``), read-only
fields ignored on input and unknown fields refused by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class ApiSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, not {type(data).__name__}."]}
            )
        by_lower = {name.lower(): name for name in self.fields}
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


def validated(serializer_class: type[ApiSerializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate ``data``; raises ValidationError (a 400 naming every problem)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
