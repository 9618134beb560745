"""Listrak's cursor paging: ``cursor`` (``Start`` for the first page) and
``count`` (default 1000, at most 5000). A cursor is an opaque token naming
the last row of the previous page, so a page is one index range scan however
deep the client has paged, and rows added meanwhile are neither skipped nor
repeated."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import models
from django.db.models import QuerySet

from api.errors import invalid

T = TypeVar("T", bound=models.Model)
#: A key column as the model's options give it (a relation is refused).
Column = models.Field | models.ForeignObjectRel

DEFAULT_COUNT = 1000
MAX_COUNT = 5000
START = "start"
_BIGINT_MAX = 2**63 - 1


def parse_count(params: Any) -> int:
    raw = params.get("count")
    if raw is None or raw == "":
        return DEFAULT_COUNT
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise invalid("count", f"count is a whole number from 1 to {MAX_COUNT}, not {raw!r}.")
    return int(text)


def encode_cursor(values: Sequence[object]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(params: Any, columns: Sequence[Column]) -> list[Any] | None:
    """The key values after which the page starts; None for the first page.

    A cursor is the client's text, so a hand-made one is checked to hold what
    ``encode_cursor`` writes for these key columns: a number the database can
    compare, or text it can hold (no NUL), never a value a query would choke on.
    """
    raw = params.get("cursor")
    if raw is None or raw.strip() == "" or raw.strip().lower() == START:
        return None
    try:
        padded = raw.strip() + "=" * (-len(raw.strip()) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(columns)
        or not all(map(_fits, values, columns))
    ):
        raise invalid(
            "cursor", "Pass the nextPageCursor of the previous page, or Start for the first."
        )
    return values


def _fits(value: object, column: Column) -> bool:
    if isinstance(column, models.IntegerField):  # AutoField and BigAutoField too
        return type(value) is int and 0 <= value <= _BIGINT_MAX
    if isinstance(column, models.CharField | models.TextField):
        return isinstance(value, str) and "\x00" not in value
    raise TypeError(f"keyset_page pages by integer or text columns, not {column!r}")


def keyset_page(
    queryset: QuerySet[T],
    *,
    params: Any,
    key: Sequence[str],
    after: Callable[[QuerySet[T], list[Any]], QuerySet[T]],
    key_of: Callable[[T], Sequence[object]],
) -> tuple[list[T], str | None]:
    """One page of ``queryset`` ordered by ``key``; ``after`` narrows the
    queryset to rows after the decoded cursor values."""
    count = parse_count(params)
    meta = queryset.model._meta
    start = decode_cursor(params, [meta.pk if k == "pk" else meta.get_field(k) for k in key])
    if start is not None:
        queryset = after(queryset, start)
    rows = list(queryset.order_by(*key)[: count + 1])
    more = len(rows) > count
    rows = rows[:count]
    return rows, encode_cursor(key_of(rows[-1])) if more else None


def pk_page(queryset: QuerySet, *, params: Any) -> tuple[list[Any], str | None]:
    """One page of ``queryset`` in primary key order (``keyset_page``)."""
    return keyset_page(
        queryset,
        params=params,
        key=["pk"],
        after=lambda rows, start: rows.filter(pk__gt=int(start[0])),
        key_of=lambda row: [row.pk],
    )
