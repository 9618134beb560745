"""Writing many rows that each get their own values, in few statements.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per
field, which costs more Python time than the database spends on the update.
:func:`update_rows` joins the table to the new values instead: on PostgreSQL
``UPDATE … FROM jsonb_array_elements(<one JSON document>)``, on SQLite
(3.33+) ``WITH v(id, …) AS (VALUES …) UPDATE … FROM v``. :func:`insert_rows` and
:func:`create_rows` insert with COPY on PostgreSQL.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models.expressions import RawSQL

M = TypeVar("M", bound=models.Model)

MAX_PARAMS = 30000  # below SQLite's 32766 bound variables per statement
MAX_ROWS = 2000


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each saved object in ``objs`` (all of one model)."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = _fields(meta, fields)
    if connection.vendor == "postgresql":
        _update_json(connection, meta, columns, objs)
    else:
        _update_values(connection, meta, columns, objs)


def _fields(meta: models.options.Options, names: Sequence[str]) -> list[models.Field]:
    """The named fields, to write: concrete ones (``get_field`` also gives the
    reverse relations, which have no column)."""
    return cast(list[models.Field], [meta.get_field(name) for name in names])


def _column(field: models.Field) -> str:
    """The column of a concrete field (the stubs allow None, for the others)."""
    return cast(str, field.column)


def _update_json(connection, meta, columns: list[models.Field], objs) -> None:
    # The new values travel as one JSON document (an array per row): the
    # statement stays short whatever the number of rows, and ``json.dumps``
    # (C) writes it far faster than the driver quotes thousands of parameters
    # or array elements one by one.
    quote = connection.ops.quote_name
    pk = meta.pk
    values, assignments, converters = [f"(r->>0)::{pk.db_type(connection)} AS c0"], [], []
    for n, field in enumerate(columns, start=1):
        if isinstance(field, models.JSONField) and field.encoder is None:
            value = f"NULLIF(r->{n}, 'null'::jsonb)"  # the document itself; null is SQL NULL
        elif isinstance(field, models.JSONField):
            value = f"(r->>{n})::jsonb"  # written by the field's own encoder
        else:
            value = f"(r->>{n})::{field.db_type(connection)}"
        values.append(f"{value} AS c{n}")
        assignments.append(f"{quote(field.column)} = v.c{n}")
        converters.append(_json_converter(field))
    readers = [(f.attname, convert) for f, convert in zip(columns, converters, strict=True)]
    rows = [[obj.pk, *(convert(getattr(obj, name)) for name, convert in readers)] for obj in objs]
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(assignments)} FROM (SELECT {', '.join(values)} "
            f"FROM jsonb_array_elements(%s::jsonb) AS r) AS v "
            f"WHERE {table}.{quote(pk.column)} = v.c0",
            [json.dumps(rows, separators=(",", ":"))],
        )


def _json_converter(field: models.Field):
    """A function turning the field's Python value into what JSON carries
    and PostgreSQL reads back as the column's type."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        if encoder is None:
            return field.get_prep_value  # nested as it is; json.dumps refuses what Django would

        def convert_json(value: object) -> str | None:
            value = field.get_prep_value(value)
            return None if value is None else json.dumps(value, cls=encoder)

        return convert_json

    plain = _plain_type(field)

    def convert(value: object) -> object:
        if value is None or type(value) is plain:
            return value
        value = field.get_prep_value(value)
        if value is None or isinstance(value, str | int | bool):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)  # JSON has no NaN; SQL does
        if isinstance(value, datetime.timedelta):
            return f"{value.total_seconds()} seconds"
        if isinstance(value, datetime.date | datetime.time):  # datetimes too
            return value.isoformat()
        if isinstance(value, bytes | memoryview):
            return "\\x" + bytes(value).hex()
        return str(value)  # Decimal, UUID

    return convert


def _update_values(connection, meta, columns: list[models.Field], objs) -> None:
    quote = connection.ops.quote_name
    pk = meta.pk
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    names = ", ".join(quote(f.column) for f in [pk, *columns])
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    table = quote(meta.db_table)
    join = f"{table}.{quote(pk.column)} = v.{quote(pk.column)}"
    size = max(1, min(MAX_ROWS, MAX_PARAMS // (len(columns) + 1)))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            part = objs[start : start + size]
            params: list[object] = []
            for obj in part:
                params.append(obj.pk)
                params.extend(
                    f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns
                )
            cursor.execute(
                f"WITH v({names}) AS (VALUES {', '.join([row_sql] * len(part))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {join}",
                params,
            )


def insert_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Insert unsaved ``objs`` (all of one model), writing only ``fields``
    (the others take their database defaults), without reading ids back.

    PostgreSQL loads them with COPY, the fastest way in; elsewhere they go
    through ``bulk_create``.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)  # every model's is its ``objects``
        return
    quote = connection.ops.quote_name
    columns = _fields(model._meta, fields)
    names = ", ".join(quote(_column(f)) for f in columns)
    readers = [_copy_reader(f, connection, adding=False) for f in columns]
    with connection.cursor() as cursor:
        sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([read(obj) for read in readers])


def create_rows(objs: Sequence[M]) -> Sequence[M]:
    """Insert unsaved ``objs`` (all of one model, with an auto-increment
    primary key) and give each its id, like ``bulk_create``.

    On PostgreSQL the ids are taken from the table's sequence in one query
    and the rows loaded with COPY: for a batch of a thousand rows, several
    times quicker than the ``INSERT … RETURNING`` Django compiles.
    """
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or not isinstance(meta.pk, models.AutoField):
        return model._default_manager.bulk_create(objs)  # every model's is its ``objects``
    for obj in objs:  # as bulk_create: related objects saved since they were assigned
        obj._prepare_related_fields_for_save(operation_name="create_rows")  # type: ignore[attr-defined]  # private Model API, not in django-stubs
    quote = connection.ops.quote_name
    columns = list(meta.concrete_fields)
    names = ", ".join(quote(_column(f)) for f in columns)
    readers = [_copy_reader(f, connection, adding=True) for f in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([read(obj) for read in readers])
    for obj in objs:
        obj._state.adding, obj._state.db = False, alias
    return objs


def _plain_type(field: models.Field) -> type | None:
    """The Python type whose values the database takes as they are for
    ``field`` (what ``get_db_prep_save`` would return unchanged)."""
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.CharField | models.TextField):
        return str
    if isinstance(field, models.IntegerField | models.AutoField):
        return int
    if isinstance(field, models.BooleanField):
        return bool
    return None


def _copy_reader(field: models.Field, connection, *, adding: bool):
    """A function of an object giving the value COPY writes for ``field``:
    ``get_db_prep_save`` of it (after ``pre_save`` when inserting), skipped
    for the plain values it would hand back unchanged. A thousand rows of
    ten columns make ten thousand calls: the shortcut halves their cost."""
    value_of: Callable[[models.Model], object]
    if adding and (
        getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
        or isinstance(field, models.FileField)
    ):

        def pre_save(obj: models.Model) -> object:
            return field.pre_save(obj, True)

        value_of = pre_save
    else:
        value_of = operator.attrgetter(field.attname)
    plain = _plain_type(field)
    prepare = field.get_db_prep_save
    if isinstance(field, models.JSONField):
        # The document as text, which COPY's text format carries as it is and
        # PostgreSQL parses as the column's type: the same JSON Django's
        # adapter would write, without a psycopg wrapper and dumper per value.
        dumps = (
            json.dumps
            if field.encoder is None
            else functools.partial(json.dumps, cls=field.encoder)
        )
        get_prep_value = field.get_prep_value

        def read(obj: models.Model) -> object:
            value = get_prep_value(value_of(obj))
            return None if value is None else dumps(value)

    elif plain is not None:

        def read(obj: models.Model) -> object:
            value = value_of(obj)
            return value if value is None or type(value) is plain else prepare(value, connection)

    elif isinstance(field, models.DateTimeField):

        def read(obj: models.Model) -> object:
            value = value_of(obj)
            if value is None or (type(value) is datetime.datetime and value.tzinfo is not None):
                return value
            return prepare(value, connection)  # naive: Django warns and makes it aware

    else:

        def read(obj: models.Model) -> object:
            return prepare(value_of(obj), connection)

    return read


def json_strings(values: Iterable[str]) -> RawSQL:
    """A subquery of ``values`` for ``field__in=``, sent as one JSON
    parameter: with hundreds of values, much cheaper than a placeholder
    each (which Django prepares and the driver parses and quotes one by
    one; ten thousand of them take the driver a quarter of a second)."""
    return _json_values(values, "text")


def json_ids(values: Iterable[int]) -> RawSQL:
    """:func:`json_strings` for integer ids."""
    return _json_values(values, "bigint")


def _json_values(values: Iterable[object], kind: str) -> RawSQL:
    document = json.dumps(list(values))
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        return RawSQL(f"SELECT (jsonb_array_elements_text(%s::jsonb))::{kind}", [document])
    return RawSQL("SELECT value FROM json_each(%s)", [document])
