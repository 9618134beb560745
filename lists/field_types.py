"""Profile field values: validation and the canonical stored form of each type.

Every value is stored as a string in ``Contact.profile[str(field.id)]``:

=============================  ==========================  ==================
Type                           Accepted input              Stored as
=============================  ==========================  ==================
Text, CommentArea,             any text up to max_length   the text, trimmed
ContentBlock
Numeric                        a number, at most 2         ``"12.5"``, ``"-3"``
                               decimal places
Date                           ``MM/DD/YYYY`` or           ``"YYYY-MM-DD"``
                               ``YYYY-MM-DD``
CheckBox, RadioButton          on/true/1, off/false/0      ``"on"`` / ``"off"``
=============================  ==========================  ==================

A blank value means "no value": it is stored as an absent key, never as "".
The canonical forms are fixed points (cleaning a stored value returns it), and
ISO dates and ``on``/``off`` sort and compare correctly in SQL.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from django.core.exceptions import ValidationError

from lists.models import DataType, ProfileField

TRUE_WORDS = frozenset({"on", "true", "1"})
FALSE_WORDS = frozenset({"off", "false", "0"})
WHITESPACE = " \t\r\n\f\v"  # trimmed from both ends of every value
NUMERIC_LIMIT = Decimal("1e16")  # fits NUMERIC(18, 2) when compared in SQL

# These patterns are shared with the SQL of the PostgreSQL import path
# (contacts/imports/postgres.py), so both accept exactly the same values.
NUMERIC_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
ISO_DATE_PATTERN = r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$"
US_DATE_PATTERN = r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$"
_NUMERIC = re.compile(NUMERIC_PATTERN)
_ISO_DATE = re.compile(ISO_DATE_PATTERN)
_US_DATE = re.compile(US_DATE_PATTERN)


def _invalid(field: ProfileField, message: str, value: object) -> ValidationError:
    return ValidationError(
        "Profile field '%(field)s': " + message,
        code="invalid_profile_value",
        params={"field": field.name, "value": value},
    )


def _clean_text(field: ProfileField, text: str) -> str:
    if len(text) > field.max_length:
        raise ValidationError(
            "Profile field '%(field)s' accepts at most %(max)d characters; got %(length)d.",
            code="profile_value_too_long",
            params={"field": field.name, "max": field.max_length, "length": len(text)},
        )
    return text


def _clean_numeric(field: ProfileField, text: str) -> str:
    if not _NUMERIC.match(text):
        raise _invalid(field, "'%(value)s' is not a number.", text)
    number = Decimal(text).normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise _invalid(field, "'%(value)s' has more than 2 decimal places.", text)
    if abs(number) >= NUMERIC_LIMIT:
        raise _invalid(field, "'%(value)s' is too large.", text)
    if number == 0:
        number = Decimal(0)  # no "-0"
    return f"{number:f}"


def _clean_date(field: ProfileField, text: str) -> str:
    if match := _ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _US_DATE.match(text):
        month, day, year = (int(part) for part in match.groups())
    else:
        raise _invalid(field, "'%(value)s' is not a date; use MM/DD/YYYY or YYYY-MM-DD.", text)
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        raise _invalid(
            field, "'%(value)s' is not a date; use MM/DD/YYYY or YYYY-MM-DD.", text
        ) from None


def _clean_switch(field: ProfileField, text: str) -> str:
    word = text.lower()
    if word in TRUE_WORDS:
        return "on"
    if word in FALSE_WORDS:
        return "off"
    raise _invalid(field, "'%(value)s' is not on/off; use on, true, 1, off, false or 0.", text)


_CLEANERS = {
    DataType.TEXT: _clean_text,
    DataType.COMMENT_AREA: _clean_text,
    DataType.CONTENT_BLOCK: _clean_text,
    DataType.NUMERIC: _clean_numeric,
    DataType.DATE: _clean_date,
    DataType.CHECK_BOX: _clean_switch,
    DataType.RADIO_BUTTON: _clean_switch,
}


def clean_value(field: ProfileField, value: object) -> str | None:
    """Return ``value`` in the canonical stored form of ``field``'s type.

    ``None`` or blank text returns ``None`` (no value). Raises ValidationError
    naming the field when the value does not fit.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat()
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, int | float | Decimal | str):
        text = str(value).strip(WHITESPACE)
    else:
        raise _invalid(field, "a value of type %(value)s is not accepted.", type(value).__name__)
    if text == "":
        return None
    return _CLEANERS[DataType(field.data_type)](field, text)


def to_python(field: ProfileField, stored: str | None) -> object:
    """The stored value as a Python object (for forms and merge fields)."""
    if stored is None:
        return None
    data_type = DataType(field.data_type)
    if data_type == DataType.NUMERIC:
        return Decimal(stored)
    if data_type == DataType.DATE:
        return datetime.date.fromisoformat(stored)
    if data_type in (DataType.CHECK_BOX, DataType.RADIO_BUTTON):
        return stored == "on"
    return stored
