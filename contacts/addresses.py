"""Email addresses: the one normalisation every lookup and write goes through."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate = EmailValidator()


def normalise_email(raw: object) -> str:
    """Return the address trimmed and in lower case, or raise ValidationError
    naming it. Addresses are case-insensitive keys within a list."""
    if not isinstance(raw, str):
        raise ValidationError(
            "An email address must be text, not %(type)s.",
            code="ERROR_INVALID_PARAMETER",
            params={"type": type(raw).__name__},
        )
    email = raw.strip().lower()
    if not email:
        raise ValidationError("The email address is empty.", code="ERROR_INVALID_PARAMETER")
    if len(email) > 254:
        raise ValidationError(
            "The email address %(email)s is longer than 254 characters.",
            code="ERROR_INVALID_PARAMETER",
            params={"email": repr(email[:40] + "…")},
        )
    try:
        _validate(email)
    except ValidationError:
        raise ValidationError(
            "%(email)s is not a valid email address.",
            code="ERROR_INVALID_PARAMETER",
            params={"email": repr(raw.strip())},
        ) from None
    return email
