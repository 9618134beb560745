"""SQL spellings of the profile value grammar (``lists.field_types``).

Each function returns expressions over a text column that give what
``clean_value`` gives in Python: the canonical value, and the refusal message
in the same words. The regular expressions are the very ones Python uses.
"""

from __future__ import annotations

from contacts.addresses import WHITESPACE
from lists.field_types import ISO_DATE_PATTERN, NUMERIC_LIMIT, NUMERIC_PATTERN, US_DATE_PATTERN
from lists.models import DataType, ProfileField


def literal(text: str) -> str:
    """A SQL string literal, for a statement run without parameters (COPY)."""
    return "'" + text.replace("'", "''") + "'"


def quote(text: str) -> str:
    """A SQL string literal for a constant composed into a statement. Such
    statements are always executed with parameters, so ``%`` is doubled."""
    return literal(text).replace("%", "%%")


def trim(column: str) -> str:
    return f"btrim({column}, {quote(WHITESPACE)})"


def clean_value_sql(value: str, field: ProfileField) -> tuple[str, str]:
    """``(canonical value, refusal message)`` as SQL over the non-blank text
    expression ``value``; each is NULL where the other is not."""
    prefix = quote(f"Profile field '{field.name}': ")
    shown = f"'''' || {value} || ''''"
    data_type = DataType(field.data_type)
    if data_type == DataType.NUMERIC:
        number = f"({value})::numeric"
        limit = f"{NUMERIC_LIMIT:f}"
        pattern = quote(NUMERIC_PATTERN)
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
        date = _date(value)
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
    too_long = quote(
        f"Profile field '{field.name}' accepts at most {field.max_length} characters; got "
    )
    return (
        f"CASE WHEN char_length({value}) <= {field.max_length} THEN {value} END",
        f"CASE WHEN char_length({value}) > {field.max_length}"
        f" THEN {too_long} || char_length({value}) || '.' END",
    )


def _date(value: str) -> str:
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
        f" CASE WHEN {value} ~ {quote(ISO_DATE_PATTERN)} THEN {iso} END"
        f" WHEN strpos({value}, '/') > 0 THEN"
        f" CASE WHEN {value} ~ {quote(US_DATE_PATTERN)} THEN {us} END END"
    )
