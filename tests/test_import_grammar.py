"""Every import path accepts and refuses exactly what the Python services do.

The PostgreSQL path checks addresses and values in SQL; this feeds both paths
a corpus of awkward cells and compares each outcome with the Python rule.
"""

import csv
import io

import pytest
from django.core.exceptions import ValidationError

from contacts.addresses import normalise_email
from contacts.models import Contact
from lists.field_types import clean_value
from lists.models import DataType
from tests.factories import ListFactory, ProfileFieldFactory
from tests.imports_helpers import do_import, results

pytestmark = pytest.mark.django_db

ADDRESSES = [
    "plain@example.com",
    "UPPER@EXAMPLE.COM",
    " spaced@example.com\t",
    "o'brien@example.ie",
    "a.b+tag@sub.example.co.uk",
    "x@xn--bcher-kva.example",
    "a..b@example.com",
    ".a@example.com",
    "a@example",
    "a@-example.com",
    "a@example.c",
    "user@exa_mple.com",
    "üser@example.com",
    "a@b@example.com",
    "",
    "   ",
    "%percent@example.com",
    "a" * 65 + "@example.com",
    "x@" + "a" * 250 + ".com",
]
VALUES = {
    DataType.NUMERIC: [
        "1",
        "-0",
        "0.50",
        "1e2",
        "+.5",
        "5.",
        "1.234",
        "1e999",
        "1e9999",
        "1_000",
        "١٢",
        "NaN",
        "12 ",
        "9999999999999999.99",
        "10000000000000000",
        "1,5",
    ],
    DataType.DATE: [
        "02/29/2024",
        "02/29/2023",
        "2/3/2025",
        "2025-12-31",
        "2025-13-01",
        "0000-01-01",
        "12/31/99",
        "2025-1-1",
        "31/12/2025",
        "2025/01/01",
    ],
    DataType.CHECK_BOX: ["on", "ON", "True", "1", "off", "FALSE", "0", "yes", "checked"],
    DataType.TEXT: ["short", "x" * 10, "x" * 11, "it's 100%", "  padded  "],
}


def csv_text(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_addresses_are_judged_alike(engine):
    email_list = ListFactory()
    rows = [["email", "n"]] + [[address, n] for n, address in enumerate(ADDRESSES)]
    done = do_import(email_list, csv_text(rows), engine=engine)
    for (_, _, result, reason), address in zip(results(done), ADDRESSES, strict=True):
        try:
            normalise_email(address)
        except ValidationError as error:
            assert (result, reason) == ("Invalid", error.messages[0]), address
        else:
            assert result == "Subscribed", (address, reason)


@pytest.mark.parametrize("data_type", list(VALUES))
def test_values_are_judged_alike(engine, data_type):
    email_list = ListFactory()
    field = ProfileFieldFactory(
        list=email_list, group__list=email_list, name="It's 50%", data_type=data_type, max_length=10
    )
    cells = VALUES[data_type]
    rows = [["email", "It's 50%"]] + [[f"r{n}@example.com", cell] for n, cell in enumerate(cells)]
    done = do_import(email_list, csv_text(rows), engine=engine)
    for n, cell in enumerate(cells):
        stored = Contact.objects.get(email=f"r{n}@example.com").profile.get(field.key)
        reason = results(done)[n][3]
        try:
            expected = clean_value(field, cell)
        except ValidationError as error:
            assert stored is None, cell
            assert reason == f"Column 'It's 50%': {error.messages[0]}", cell
        else:
            assert (stored, reason) == (expected, ""), cell
