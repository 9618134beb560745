"""Writing many rows that each get their own values, in few statements.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per
field, which costs more Python time than the database spends on the update.
:func:`update_rows` joins the table to the new values instead: on PostgreSQL
``UPDATE … FROM unnest(<one array per column>)``, on SQLite (3.33+) ``WITH
v(id, …) AS (VALUES …) UPDATE … FROM v``. :func:`insert_rows` inserts with
COPY on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router

MAX_PARAMS = 30000  # below SQLite's 32766 bound variables per statement
MAX_ROWS = 2000


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each saved object in ``objs`` (all of one model)."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor == "postgresql":
        _update_unnest(connection, meta, columns, objs)
    else:
        _update_values(connection, meta, columns, objs)


def _update_unnest(connection, meta, columns: list[models.Field], objs) -> None:
    # One array per column, whatever the number of rows: the statement stays
    # short, where a VALUES list of thousands of placeholders costs the
    # driver more time to parse than the server needs for the update.
    quote = connection.ops.quote_name
    pk = meta.pk
    everything = [pk, *columns]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in everything)
    names = ", ".join(quote(f.column) for f in everything)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    table = quote(meta.db_table)
    params = [[obj.pk for obj in objs]]
    params.extend(
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names}) "
            f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}",
            params,
        )


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
        model.objects.bulk_create(objs)
        return
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name) for name in fields]
    names = ", ".join(quote(f.column) for f in columns)
    with connection.cursor() as cursor:
        sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row(
                    [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
                )
