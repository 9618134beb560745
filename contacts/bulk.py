"""One UPDATE statement for many rows that each get their own values.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per
field, which costs more Python time than the database spends on the update.
This writes ``WITH v(id, …) AS (VALUES …) UPDATE … FROM v``, which PostgreSQL
and SQLite (3.33+) both run as a join.
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
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    cast = connection.vendor == "postgresql"

    def slot(field: models.Field) -> str:
        # PostgreSQL types a VALUES column by its first row; say the type.
        return f"%s::{field.db_type(connection)}" if cast else "%s"

    row_sql = "(" + ", ".join(slot(f) for f in [pk, *columns]) + ")"
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
