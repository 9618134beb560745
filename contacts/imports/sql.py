"""SQL spellings of the profile value grammar (``lists.field_types``).

Each function returns expressions over a text column that give what
``clean_value`` gives in Python: the canonical value, and the refusal message
in the same words. The regular expressions are the very ones Python uses.
"""

from __future__ import annotations

from contacts.addresses import WHITESPACE
from lists.field_types import NUMERIC_LIMIT, NUMERIC_PATTERN
from lists.models import DataType, ProfileField


def quote(text: str) -> str:
    """A SQL string literal for a constant composed into a statement. Such
    statements are always executed with parameters, so ``%`` is doubled."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


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
        return (
            f"to_char(pg_temp.import_date({value}), 'YYYY-MM-DD')",
            f"CASE WHEN pg_temp.import_date({value}) IS NULL THEN {prefix} || {shown}"
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
