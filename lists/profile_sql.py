"""SQL over the profile values contacts hold: ``{str(field id): canonical
string}`` in a JSON column (``Contact.profile``; the forms are
``lists.field_types``).

Django's own key transforms read a digit-only key such as ``"12"`` as an
*array index* on both SQLite and PostgreSQL, so :class:`ProfileText` extracts
by object key itself: ``profile ->> '12'`` on PostgreSQL,
``json_extract(profile, '$."12"')`` on SQLite, the key always passed as a
parameter. It lives here, beside the format it reads, for every app that
queries profiles (contacts' field checks; Conductor's criteria may subclass it).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import F, Field, Func, TextField
from django.db.utils import NotSupportedError

_KEY = re.compile(r"[0-9]+")

Sql = tuple[str, list[Any]]


class ProfileText(Func):
    """The stored text of one profile field (``None`` when the key is missing)."""

    output_field: Field[Any, Any] = TextField()  # subclasses read the text as other types

    def __init__(self, key: str, column: str = "profile") -> None:
        if not _KEY.fullmatch(key):
            raise ValueError(f"profile keys are field ids, not {key!r}")
        self.key = key
        super().__init__(F(column))

    def extract(self, compiler: Any, connection: Any) -> Sql:
        """The extraction alone, for subclasses that wrap it in a cast."""
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            # ::text: ``->>`` also takes an integer (an array index).
            return f"({column} ->> %s::text)", [*params, self.key]
        if connection.vendor == "sqlite":
            # A quoted label is an object key even when it is all digits.
            return f"json_extract({column}, %s)", [*params, f'$."{self.key}"']
        raise NotSupportedError(f"profile values cannot be read on {connection.vendor}")

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Sql:  # type: ignore[override]  # params in a list, as Django 5.2 builds them; the stubs say tuple
        return self.extract(compiler, connection)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Sql:  # type: ignore[override]  # as as_sql: a list of params
        return self.extract(compiler, connection)  # not Func's numeric CAST wrapper
