"""Profile values are coerced by their field's type, or refused naming the field."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from lists.field_types import clean_value, to_python
from lists.models import DataType, ProfileField


def field(data_type: str, max_length: int = 10) -> ProfileField:
    return ProfileField(name="Shoe size", data_type=data_type, max_length=max_length)


@pytest.mark.parametrize(
    ("data_type", "given", "stored"),
    [
        (DataType.TEXT, "  Ada  ", "Ada"),
        (DataType.COMMENT_AREA, "line one\nline two"[:10], "line one\nl"),
        (DataType.CONTENT_BLOCK, "<b>hi</b>", "<b>hi</b>"),
        (DataType.NUMERIC, "12.50", "12.5"),
        (DataType.NUMERIC, "-3", "-3"),
        (DataType.NUMERIC, "100", "100"),
        (DataType.NUMERIC, "+.5", "0.5"),
        (DataType.NUMERIC, "5.", "5"),
        (DataType.NUMERIC, "1.10e1", "11"),
        (DataType.NUMERIC, "9999999999999999.99", "9999999999999999.99"),
        (DataType.NUMERIC, "1e2", "100"),
        (DataType.NUMERIC, "-0.00", "0"),
        (DataType.NUMERIC, 7, "7"),
        (DataType.NUMERIC, Decimal("0.25"), "0.25"),
        (DataType.DATE, "02/29/2024", "2024-02-29"),
        (DataType.DATE, "2/3/2025", "2025-02-03"),
        (DataType.DATE, "2025-12-31", "2025-12-31"),
        (DataType.DATE, datetime.date(2025, 1, 2), "2025-01-02"),
        (DataType.CHECK_BOX, "on", "on"),
        (DataType.CHECK_BOX, "TRUE", "on"),
        (DataType.CHECK_BOX, "1", "on"),
        (DataType.CHECK_BOX, "off", "off"),
        (DataType.CHECK_BOX, "False", "off"),
        (DataType.CHECK_BOX, "0", "off"),
        (DataType.CHECK_BOX, True, "on"),
        (DataType.RADIO_BUTTON, "true", "on"),
        (DataType.RADIO_BUTTON, "0", "off"),
    ],
)
def test_it_stores_each_type_in_its_canonical_form(data_type, given, stored):
    assert clean_value(field(data_type), given) == stored
    assert clean_value(field(data_type), stored) == stored  # canonical forms are fixed points


@pytest.mark.parametrize("data_type", list(DataType))
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_value_means_no_value(data_type, blank):
    assert clean_value(field(data_type), blank) is None


@pytest.mark.parametrize(
    ("data_type", "given", "message"),
    [
        (
            DataType.TEXT,
            "x" * 11,
            "Profile field 'Shoe size' accepts at most 10 characters; got 11.",
        ),
        (DataType.CONTENT_BLOCK, "x" * 11, "at most 10 characters"),
        (DataType.NUMERIC, "twelve", "'twelve' is not a number."),
        (DataType.NUMERIC, "1.234", "'1.234' has more than 2 decimal places."),
        (DataType.NUMERIC, "NaN", "'NaN' is not a number."),
        (DataType.NUMERIC, "Infinity", "is not a number"),
        (DataType.NUMERIC, "1,000", "is not a number"),
        (DataType.NUMERIC, "1" * 17, "is too large"),
        (DataType.NUMERIC, "1e999", "is too large"),
        (DataType.NUMERIC, "1e9999", "is not a number"),
        (DataType.NUMERIC, "1_000", "is not a number"),
        (DataType.NUMERIC, "١٢", "is not a number"),
        (DataType.DATE, "0000-01-01", "is not a date"),
        (DataType.DATE, "2025-1-1x", "is not a date"),
        (DataType.DATE, "2023-02-29", "'2023-02-29' is not a date; use MM/DD/YYYY or YYYY-MM-DD."),
        (DataType.DATE, "31/12/2025", "is not a date"),
        (DataType.DATE, "tomorrow", "is not a date"),
        (DataType.CHECK_BOX, "yes", "'yes' is not on/off"),
        (DataType.RADIO_BUTTON, "checked", "is not on/off"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_naming_the_field(data_type, given, message):
    with pytest.raises(ValidationError) as raised:
        clean_value(field(data_type), given)
    text = raised.value.messages[0]
    assert "Shoe size" in text
    assert message in text


def test_a_value_of_an_unsupported_type_is_refused():
    with pytest.raises(ValidationError, match="type list is not accepted"):
        clean_value(field(DataType.TEXT), ["a"])


def test_stored_values_read_back_as_python_objects():
    assert to_python(field(DataType.NUMERIC), "12.5") == Decimal("12.5")
    assert to_python(field(DataType.DATE), "2024-02-29") == datetime.date(2024, 2, 29)
    assert to_python(field(DataType.CHECK_BOX), "on") is True
    assert to_python(field(DataType.RADIO_BUTTON), "off") is False
    assert to_python(field(DataType.TEXT), "Ada") == "Ada"
    assert to_python(field(DataType.TEXT), None) is None
