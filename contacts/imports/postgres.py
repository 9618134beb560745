"""The PostgreSQL import path: COPY into a staging table, then set-based SQL.

Same rules and results as ``portable.py``, row for row, but the database does
the work, in three steps, each in its own module:

- ``pg_staging``: the file is streamed into a temporary table with COPY;
- ``pg_planning``: one statement classifies every row against the list by
  the rule table (``rules``) and cleans the values it writes;
- ``pg_writing``: a few statements write contacts, state changes, values,
  events, activity and the per-row results.

Every string from the file, the list or its fields reaches SQL as a query
parameter (``sql.Bind``).
"""

from __future__ import annotations

from collections import Counter

from django.db import connection

from contacts.imports.pg_planning import PLAN, plan_rows
from contacts.imports.pg_staging import RAW, stage_file
from contacts.imports.pg_writing import ACTIVITY, NEW, write_plan
from contacts.imports.rows import ImportPath


class PostgresImport(ImportPath):
    """The import done by the database: staged, planned, then written."""

    def run(self) -> Counter[str]:
        with connection.cursor() as cursor:
            # Imports of one list take turns. Other writers only ever wait on the
            # rows an import changes, which it locks in address order, as they do.
            cursor.execute("SELECT pg_advisory_xact_lock(7300, %s)", [self.list_import.list_id])
            cursor.execute("SET LOCAL work_mem = '256MB'")
            stage_file(
                cursor,
                list_import=self.list_import,
                layout=self.layout,
                path=self.path,
                progress=self.progress,
            )
            tally = plan_rows(cursor, list_import=self.list_import, layout=self.layout)
            write_plan(cursor, list_import=self.list_import, layout=self.layout)
            for name in (RAW, PLAN, NEW, ACTIVITY):
                cursor.execute(f"DROP TABLE {name}")
        return tally
