"""Composing the import's SQL: query parameters, table names, and the SQL
spellings of the profile value grammar (``lists.field_types``).

Every string a statement is composed with (a column header, a field's name, a
message, a pattern) goes in as a query parameter through ``Bind``; only
generated names and fixed SQL are written into the text.

``clean_value_sql`` returns expressions over a text column that give what
``clean_value`` gives in Python: the canonical value, and the refusal message
in the same words. The regular expressions are the very ones Python uses.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Model

from contacts.addresses import WHITESPACE
from lists.field_types import ISO_DATE_PATTERN, NUMERIC_LIMIT, NUMERIC_PATTERN, US_DATE_PATTERN
from lists.models import DataType, ProfileField


class Bind:
    """The parameters of one statement as it is composed: ``bind(value)``
    gives the placeholder that stands for ``value`` (``%(b0)s``, ``%(b1)s``,
    …; the fixed parameters go by other names). One value bound twice gets
    one placeholder. Pass ``params`` to ``cursor.execute``."""

    def __init__(self, **named: str | int | None) -> None:
        self.params: dict[str, str | int | None] = dict(named)
        self._names: dict[tuple[type, object], str] = {}

    def __call__(self, value: str | int | None) -> str:
        if isinstance(value, str):
            value = str.__str__(value)  # a choice or enum member as its plain text
        key = (type(value), value)
        if key not in self._names:
            self._names[key] = name = f"b{len(self._names)}"
            self.params[name] = value
        return f"%({self._names[key]})s"

    def each(self, values: Iterable[str]) -> str:
        """``a, b, …``: the placeholders of ``values``, for an IN list or an ARRAY."""
        return ", ".join(self(value) for value in values)


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


def trim(column: str, bind: Bind) -> str:
    """``column`` without the whitespace Python strips from a value."""
    return f"btrim({column}, {bind(WHITESPACE)})"


def clean_value_sql(value: str, field: ProfileField, bind: Bind) -> tuple[str, str]:
    """``(canonical value, refusal message)`` as SQL over the non-blank text
    expression ``value``; each is NULL where the other is not."""
    prefix = bind(f"Profile field '{field.name}': ")
    shown = f"'''' || {value} || ''''"
    data_type = DataType(field.data_type)
    if data_type == DataType.NUMERIC:
        number = f"({value})::numeric"
        limit = f"{NUMERIC_LIMIT:f}"
        pattern = bind(NUMERIC_PATTERN)
        return (
            f"CASE WHEN {value} ~ {pattern} THEN"
            f" CASE WHEN scale(trim_scale({number})) <= 2 AND abs({number}) < {limit}"
            f" THEN trim_scale({number})::text END END",
            f"CASE WHEN {value} !~ {pattern} THEN {prefix} || {shown} || ' is not a number.'"
            f" WHEN scale(trim_scale({number})) > 2"
            f" THEN {prefix} || {shown} || ' has more than 2 decimal places.'"
            f" WHEN abs({number}) >= {limit} THEN {prefix} || {shown} || ' is too large.' END",
        )
    if data_type == DataType.DATE:
        date = _date(value, bind)
        return (
            date,
            f"CASE WHEN ({date}) IS NULL THEN {prefix} || {shown}"
            " || ' is not a date; use MM/DD/YYYY or YYYY-MM-DD.' END",
        )
    if data_type in (DataType.CHECK_BOX, DataType.RADIO_BUTTON):
        return (
            f"CASE WHEN lower({value}) IN ('on', 'true', '1') THEN 'on'"
            f" WHEN lower({value}) IN ('off', 'false', '0') THEN 'off' END",
            f"CASE WHEN lower({value}) NOT IN ('on', 'true', '1', 'off', 'false', '0')"
            f" THEN {prefix} || {shown} || ' is not on/off; use on, true, 1, off, false or 0.' END",
        )
    too_long = bind(
        f"Profile field '{field.name}' accepts at most {field.max_length} characters; got "
    )
    return (
        f"CASE WHEN char_length({value}) <= {field.max_length} THEN {value} END",
        f"CASE WHEN char_length({value}) > {field.max_length}"
        f" THEN {too_long} || char_length({value}) || '.' END",
    )


def _date(value: str, bind: Bind) -> str:
    """``value`` (YYYY-MM-DD or MM/DD/YYYY) as YYYY-MM-DD text, NULL if it is
    no date. Plain arithmetic, inline: a function or date arithmetic per row
    would cost several times more on a million rows."""

    def part(separator: str, n: int) -> str:
        return f"split_part({value}, '{separator}', {n})::int"

    def valid(y: str, m: str, d: str) -> str:
        leap = f"(mod({y}, 4) = 0 AND (mod({y}, 100) <> 0 OR mod({y}, 400) = 0))"
        last_day = (
            f"CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END"
            f" WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
        )
        text = (
            f"lpad({y}::text, 4, '0') || '-' || lpad({m}::text, 2, '0')"
            f" || '-' || lpad({d}::text, 2, '0')"
        )
        return (
            f"CASE WHEN {m} BETWEEN 1 AND 12 AND {y} >= 1 AND {d} BETWEEN 1 AND {last_day}"
            f" THEN {text} END"
        )

    iso = valid(part("-", 1), part("-", 2), part("-", 3))
    us = valid(part("/", 3), part("/", 1), part("/", 2))
    # Each form has its own separator: one cheap test picks the one regex to run.
    return (
        f"CASE WHEN strpos({value}, '-') > 0 THEN"
        f" CASE WHEN {value} ~ {bind(ISO_DATE_PATTERN)} THEN {iso} END"
        f" WHEN strpos({value}, '/') > 0 THEN"
        f" CASE WHEN {value} ~ {bind(US_DATE_PATTERN)} THEN {us} END END"
    )
