"""The PostgreSQL import path: COPY into a staging table, then set-based SQL.

Same rules and results as ``portable.py``, row for row, but the database does
the work: the file is streamed into a temporary table with COPY (the server
parses a well-formed CSV itself while this process checks it on the same
bytes; any other file is parsed here and sent row by row), one statement
classifies every row against the list, and a few statements write contacts,
activity and per-row results. Python never holds more than a chunk of the file.

The value grammar (``lists.field_types``) and the address rule
(``contacts.addresses``) reach SQL through their shared regular expressions,
and the messages are composed the same way, so both paths report a refused
value in the same words (``tests/test_imports.py`` runs on both).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from contacts.addresses import ADDRESS_PATTERN, MAX_LENGTH
from contacts.hooks import activities_recorded, announce_activities
from contacts.imports.models import ImportType, ListImport
from contacts.imports.portable import NOT_ON_LIST
from contacts.imports.rows import ADDS, APPLIES_VALUES, width_problem
from contacts.imports.source import BOM, CHUNK, Layout, iter_rows
from contacts.imports.sql import clean_value_sql, quote, trim
from contacts.models import ActivityKind, SubscribeMethod, UnsubscribeMethod
from lists.field_types import ISO_DATE_PATTERN, US_DATE_PATTERN

RAW = "import_raw"
PLAN = "import_plan"
NEW = "import_new"
ACTIVITY = "import_activity"
APPLIES = "(" + ", ".join(f"'{result}'" for result in sorted(APPLIES_VALUES)) + ")"
PROGRESS_STEP = 10_000
LOG = "INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)"

# A session-local helper: the date of MM/DD/YYYY or YYYY-MM-DD text, NULL when
# it is no date (nested CASEs, so make_date never sees a bad month or day).
DATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.import_date(t text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN m BETWEEN 1 AND 12 AND y BETWEEN 1 AND 9999 THEN
           CASE WHEN d BETWEEN 1
                           AND extract(day FROM make_date(y, m, 1) + interval '1 month - 1 day')
                THEN make_date(y, m, d) END
         END
  FROM (SELECT CASE WHEN iso IS NOT NULL THEN iso[1]::int ELSE us[3]::int END AS y,
               CASE WHEN iso IS NOT NULL THEN iso[2]::int ELSE us[1]::int END AS m,
               CASE WHEN iso IS NOT NULL THEN iso[3]::int ELSE us[2]::int END AS d
        FROM (SELECT regexp_match(t, '{ISO_DATE_PATTERN}') AS iso,
                     regexp_match(t, '{US_DATE_PATTERN}') AS us) AS found
        WHERE iso IS NOT NULL OR us IS NOT NULL) AS parts
$$
"""


class _Irregular(Exception):
    """The file is not plain CSV of one width: parse it row by row instead."""


class _Tee(io.RawIOBase):
    """Reads the file for the CSV checker and hands every byte to COPY too."""

    def __init__(self, path: Path, copy) -> None:
        self.stream = open(path, "rb")  # noqa: SIM115  (closed by close())
        self.copy = copy
        self.first = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        if data:
            # The server would read a byte-order mark as part of the first cell.
            self.copy.write(data[len(BOM) :] if self.first and data.startswith(BOM) else data)
            self.first = False
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


class PostgresImport:
    def __init__(
        self,
        list_import: ListImport,
        layout: Layout,
        path: Path,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.list_import = list_import
        self.list_id = list_import.list_id
        self.layout = layout
        self.path = path
        self.progress = progress or (lambda rows: None)
        self.import_type = ImportType(list_import.import_type)
        self.columns = [f"c{i}" for i in range(layout.width)]
        self.params = {
            "list": self.list_id,
            "import": list_import.pk,
            "subscribe": SubscribeMethod.IMPORT,
            "unsubscribe": UnsubscribeMethod.IMPORT,
            "update_type": list_import.segmentation_type,
        }

    def run(self) -> Counter[str]:
        with connection.cursor() as cursor:
            self.cursor = cursor
            # Imports of one list take turns. Other writers only ever wait on the
            # rows an import changes, which it locks in address order, as they do.
            self._sql("SELECT pg_advisory_xact_lock(7300, %(list)s)")
            self._sql("SET LOCAL work_mem = '256MB'")
            cursor.execute(DATE_FUNCTION)
            cells = ", ".join(f"{c} text" for c in self.columns)
            self._sql(
                f"CREATE TEMPORARY TABLE {RAW} (row_number bigint GENERATED BY DEFAULT AS IDENTITY,"
                f" problem text, {cells}) ON COMMIT DROP"
            )
            self._stage()
            self._sql(f"ANALYZE {RAW}")
            self._plan()
            tally = self._tally()
            self._sql(f"CREATE TEMPORARY TABLE {ACTIVITY} (id bigint) ON COMMIT DROP")
            self._sql(f"CREATE TEMPORARY TABLE {NEW} (id bigint, email text) ON COMMIT DROP")
            if self.import_type in ADDS:
                self._insert_new()
                self._confirm_pending()
            if self.import_type == ImportType.REMOVE_SUBSCRIBERS:
                self._unsubscribe()
            if self.layout.fields:
                self._update_profiles()
            self._fire_events()
            self._record_results()
            self._announce()
            for table in (RAW, PLAN, NEW, ACTIVITY):
                self._sql(f"DROP TABLE {table}")
        return tally

    def _sql(self, sql: str, extra: dict | None = None) -> None:
        # Always with parameters, so the %% of composed literals reads as %.
        self.cursor.execute(sql, {**self.params, **(extra or {})})

    # --- staging ------------------------------------------------------------------
    def _stage(self) -> None:
        self._sql("SAVEPOINT import_copy")
        try:
            self._copy_whole_file()
        except _Irregular:
            self._sql("ROLLBACK TO SAVEPOINT import_copy")
            self._copy_row_by_row()
        self._sql("RELEASE SAVEPOINT import_copy")

    def _copy_whole_file(self) -> None:
        """The server parses the file while this process checks, on the same
        bytes, that every record is well formed."""
        options = f"FORMAT csv, DELIMITER {quote(self.list_import.delimiter)}".replace("%%", "%")
        if self.list_import.has_header:
            options += ", HEADER true"
        sql = f"COPY {RAW} ({', '.join(self.columns)}) FROM STDIN ({options})"
        try:
            with self.cursor.cursor.copy(sql) as copy:
                tee = io.BufferedReader(_Tee(self.path, copy), CHUNK)
                with io.TextIOWrapper(tee, encoding="utf-8-sig", newline="") as text:
                    self._check_regular(text)
        except _Irregular:
            raise
        except Exception as error:
            # The server refused a record Python's reader took (data exception).
            if str(getattr(error, "sqlstate", "") or "").startswith("22"):
                raise _Irregular from error
            raise

    def _check_regular(self, text: io.TextIOWrapper) -> None:
        reader = csv.reader(text, delimiter=self.list_import.delimiter)
        header = self.list_import.has_header
        count = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error:
                raise _Irregular from None
            if len(record) != self.layout.width or not any(record):
                raise _Irregular  # a blank line, or a row of another width
            if header:
                header = False
                continue
            count += 1
            if count % PROGRESS_STEP == 0:
                self.progress(PROGRESS_STEP)
        self.progress(count % PROGRESS_STEP)

    def _copy_row_by_row(self) -> None:
        sql = f"COPY {RAW} (row_number, problem, {', '.join(self.columns)}) FROM STDIN"
        empty = [None] * self.layout.width
        rows = iter_rows(
            self.path, delimiter=self.list_import.delimiter, has_header=self.list_import.has_header
        )
        count = 0
        with self.cursor.cursor.copy(sql) as copy:
            for number, cells in rows:
                problem = width_problem(self.layout, cells)
                copy.write_row((number, problem, *(empty if problem else cells)))
                count += 1
                if count % PROGRESS_STEP == 0:
                    self.progress(PROGRESS_STEP)
        self.progress(count % PROGRESS_STEP)

    # --- deciding -------------------------------------------------------------------
    def _plan(self) -> None:
        """One statement: each row's address checked, its last occurrence found,
        its contact, ban and suppression joined, its result decided and its
        values cleaned."""
        layout = self.layout
        picks = [f"{trim(f'r.c{i}')} AS v{n}" for n, (i, _) in enumerate(layout.fields)]
        picks += [f"{trim(f'r.c{i}')} AS e{n}" for n, (i, _) in enumerate(layout.events)]
        extra = "".join(f", {pick}" for pick in picks)
        email = trim(f"r.c{layout.email_index}")
        self._sql(
            f"""
            CREATE TEMPORARY TABLE {PLAN} ON COMMIT DROP AS
            WITH norm AS (
              SELECT r.row_number, r.problem, coalesce(left({email}, {MAX_LENGTH}), '') AS given,
                     lower(coalesce({email}, '')) AS addr{extra}
              FROM {RAW} r
            ), checked AS (
              SELECT n.*, CASE
                  WHEN n.problem IS NOT NULL THEN n.problem
                  WHEN n.addr = '' THEN 'The email address is empty.'
                  WHEN length(n.addr) > {MAX_LENGTH} THEN 'The email address '''
                    || left(n.addr, 40) || '…'' is longer than {MAX_LENGTH} characters.'
                  WHEN n.addr !~ {quote(ADDRESS_PATTERN)}
                    THEN '''' || n.given || ''' is not a valid email address.'
                END AS invalid
              FROM norm n
            ), ranked AS (
              SELECT c.*, max(c.row_number) FILTER (WHERE c.invalid IS NULL)
                            OVER (PARTITION BY c.addr) AS last_row
              FROM checked c
            ), joined AS (
              SELECT k.*, ct.id AS contact_id, ct.state,
                     b.email IS NOT NULL AS banned, s.email IS NOT NULL AS suppressed
              FROM ranked k
              LEFT JOIN contacts_contact ct
                ON ct.list_id = %(list)s AND ct.email = k.addr
               AND k.invalid IS NULL AND k.row_number = k.last_row
              LEFT JOIN contacts_ban b
                ON b.list_id = %(list)s AND b.email = k.addr AND k.invalid IS NULL
              LEFT JOIN contacts_suppression s ON s.email = k.addr AND k.invalid IS NULL
            ), decided AS (
              SELECT j.*, {self._result_case()} AS result, {self._reason_case()} AS reason
              FROM joined j
            )
            SELECT d.*{self._value_columns()} FROM decided d
            """
        )

    def _result_case(self) -> str:
        if self.import_type in ADDS:
            by_state = """
              WHEN suppressed THEN 'Suppressed'
              WHEN banned THEN 'Banned'
              WHEN contact_id IS NULL THEN 'Subscribed'
              WHEN state = 'Subscribed' THEN 'AlreadySubscribed'
              WHEN state = 'Pending' THEN 'Subscribed'
              ELSE 'PreviouslyUnsubscribed'"""
        elif self.import_type == ImportType.UPDATE_SUBSCRIBERS:
            by_state = """
              WHEN contact_id IS NULL THEN 'Skipped'
              WHEN state = 'Unsubscribed' THEN 'PreviouslyUnsubscribed'
              ELSE 'AlreadySubscribed'"""
        else:
            by_state = """
              WHEN contact_id IS NULL THEN 'Skipped'
              WHEN state = 'Unsubscribed' THEN 'AlreadyUnSubscribed'
              ELSE 'UnSubscribed'"""
        return f"""CASE
              WHEN invalid IS NOT NULL THEN 'Invalid'
              WHEN row_number <> last_row THEN 'Skipped'{by_state}
            END"""

    def _reason_case(self) -> str:
        if self.import_type in ADDS:
            banned_from = quote(f" is banned from list '{self.list_import.list.name}'.")
            by_state = f"""
              WHEN suppressed THEN addr || ' is suppressed and cannot be subscribed.'
              WHEN banned THEN addr || {banned_from}"""
        else:
            by_state = f"""
              WHEN contact_id IS NULL THEN {quote(NOT_ON_LIST)}"""
        return f"""CASE
              WHEN invalid IS NOT NULL THEN invalid
              WHEN row_number <> last_row
                THEN 'The address appears again in row ' || last_row || '.'{by_state}
            END"""

    def _value_columns(self) -> str:
        """For the rows whose values are written: the cleaned values, the fields
        given blank, and a message for each refused value."""
        if not self.layout.fields:
            return ", NULL::jsonb AS new_values, NULL::text[] AS blanks, NULL::text[] AS problems"
        canon, problems, blanks = [], [], []
        for n, (index, field) in enumerate(self.layout.fields):
            value, problem = clean_value_sql(f"d.v{n}", field)
            column = quote(f"Column '{self.layout.column_name(index)}': ")
            canon.append(f"{quote(field.key)}, CASE WHEN d.v{n} <> '' THEN {value} END")
            problems.append(f"CASE WHEN d.v{n} <> '' THEN {column} || ({problem}) END")
            blanks.append(f"CASE WHEN coalesce(d.v{n}, '') = '' THEN {quote(field.key)} END")
        applies = f"d.result IN {APPLIES}"
        return f""",
              CASE WHEN {applies} THEN jsonb_strip_nulls(jsonb_build_object({", ".join(canon)}))
              END AS new_values,
              CASE WHEN {applies} THEN array_remove(ARRAY[{", ".join(blanks)}]::text[], NULL)
              END AS blanks,
              CASE WHEN {applies} THEN array_remove(ARRAY[{", ".join(problems)}]::text[], NULL)
              END AS problems"""

    def _tally(self) -> Counter[str]:
        self._sql(
            f"SELECT result, count(*), sum(cardinality(problems)) FROM {PLAN} GROUP BY result"
        )
        tally: Counter[str] = Counter()
        for result, count, problems in self.cursor.fetchall():
            tally[result] = count
            tally["invalid_values"] += problems or 0
        return tally

    # --- writing --------------------------------------------------------------------
    def _insert_new(self) -> None:
        # Inserted in address order with keys rising in that order, so both
        # unique indexes are appended to rather than written all over.
        self._sql(
            f"""
            WITH inserted AS (
              INSERT INTO contacts_contact (list_id, email, email_key, external_contact_id,
                  state, subscribed_at, subscribe_method, unsubscribe_method, profile,
                  created_at, updated_at)
              SELECT %(list)s, addr,
                     lpad(to_hex((floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint
                                  + row_number() OVER (ORDER BY addr)) & 281474976710655), 12, '0')
                       || left(md5(gen_random_uuid()::text), 20),
                     '', 'Subscribed', now(), %(subscribe)s, '', coalesce(new_values, '{{}}'),
                     now(), now()
              FROM {PLAN} WHERE result = 'Subscribed' AND contact_id IS NULL
              ORDER BY addr
              -- A contact another writer added since the plan was made is left as it is.
              ON CONFLICT (list_id, email) DO NOTHING
              RETURNING id, email
            ), logged AS (
              {LOG}
              SELECT id, %(list)s, email, '{ActivityKind.SUBSCRIBED}', now(),
                     jsonb_build_object('method', %(subscribe)s::text)
              FROM inserted
              RETURNING id
            ), noted AS (INSERT INTO {ACTIVITY} SELECT id FROM logged)
            INSERT INTO {NEW} SELECT id, email FROM inserted
            """
        )

    def _confirm_pending(self) -> None:
        self._change_state(
            where="p.result = 'Subscribed' AND p.state = 'Pending'",
            assign="state = 'Subscribed', subscribed_at = coalesce(c.subscribed_at, now()),"
            " subscribe_method = %(subscribe)s",
            kind=ActivityKind.SUBSCRIBED,
            method="subscribe",
        )

    def _unsubscribe(self) -> None:
        self._change_state(
            where="p.result = 'UnSubscribed'",
            assign="state = 'Unsubscribed', unsubscribed_at = now(),"
            " unsubscribe_method = %(unsubscribe)s",
            kind=ActivityKind.UNSUBSCRIBED,
            method="unsubscribe",
        )

    def _change_state(self, *, where: str, assign: str, kind: str, method: str) -> None:
        self._sql(
            f"""
            WITH locked AS (
              SELECT c.id FROM contacts_contact c JOIN {PLAN} p ON p.contact_id = c.id
              WHERE {where} ORDER BY c.email FOR UPDATE OF c
            ), changed AS (
              UPDATE contacts_contact c SET {assign}, updated_at = now()
              FROM locked WHERE c.id = locked.id
              RETURNING c.id, c.list_id, c.email
            ), logged AS (
              {LOG}
              SELECT id, list_id, email, '{kind}', now(),
                     jsonb_build_object('method', %({method})s::text)
              FROM changed RETURNING id
            )
            INSERT INTO {ACTIVITY} SELECT id FROM logged
            """
        )

    def _update_profiles(self) -> None:
        """Existing contacts' values, merged by the segmentation import type,
        with an activity naming every value that changed."""
        update_type = self.list_import.segmentation_type
        if update_type == "Append":
            merged = "coalesce(p.new_values, '{}') || s.profile"
        elif update_type == "Overwrite":
            merged = "(s.profile - coalesce(p.blanks, '{}')) || coalesce(p.new_values, '{}')"
        else:
            merged = "s.profile || coalesce(p.new_values, '{}')"
        self._sql(
            f"""
            WITH locked AS (
              SELECT c.id, c.profile FROM contacts_contact c JOIN {PLAN} p ON p.contact_id = c.id
              WHERE p.result IN {APPLIES} ORDER BY c.email FOR UPDATE OF c
            ), merged AS (
              SELECT s.id, s.profile AS old, {merged} AS new
              FROM locked s JOIN {PLAN} p ON p.contact_id = s.id
            ), changed AS (
              UPDATE contacts_contact c SET profile = m.new, updated_at = now()
              FROM merged m WHERE c.id = m.id AND m.new <> m.old
              RETURNING c.id, c.list_id, c.email, m.old, m.new
            ), logged AS (
              {LOG}
              SELECT id, list_id, email, '{ActivityKind.PROFILE_UPDATED}', now(),
                     jsonb_build_object(
                       'update_type', %(update_type)s::text,
                       'changes', (SELECT jsonb_object_agg(k, jsonb_build_object('old', old -> k,
                                                                                 'new', new -> k))
                                   FROM jsonb_object_keys(old || new) AS k
                                   WHERE old -> k IS DISTINCT FROM new -> k))
              FROM changed RETURNING id
            )
            INSERT INTO {ACTIVITY} SELECT id FROM logged
            """
        )

    def _fire_events(self) -> None:
        for n, (_, event) in enumerate(self.layout.events):
            if not event.is_active:
                continue  # a blocked event does nothing
            self._sql(
                f"""
                WITH logged AS (
                  {LOG}
                  SELECT coalesce(p.contact_id, n.id), %(list)s, p.addr,
                         '{ActivityKind.EVENT_FIRED}', now(), jsonb_build_object(
                           'event_id', %(event)s::bigint, 'event_name', %(name)s::text,
                           'data', jsonb_build_object('import_id', %(import)s::bigint,
                                                      'value', p.e{n}))
                  FROM {PLAN} p LEFT JOIN {NEW} n ON n.email = p.addr AND p.contact_id IS NULL
                  WHERE p.result IN {APPLIES} AND p.e{n} <> ''
                    AND coalesce(p.contact_id, n.id) IS NOT NULL
                  ORDER BY p.row_number
                  RETURNING id
                )
                INSERT INTO {ACTIVITY} SELECT id FROM logged
                """,
                {"event": event.pk, "name": event.name},
            )

    def _record_results(self) -> None:
        self._sql(
            f"""
            INSERT INTO contacts_importrowresult (list_import_id, row_number, email, result, reason)
            SELECT %(import)s, row_number, given, result,
                   concat_ws('; ', reason, array_to_string(problems, '; '))
            FROM {PLAN}
            """
        )

    def _announce(self) -> None:
        if not activities_recorded.has_listeners():
            return
        self._sql(f"SELECT id FROM {ACTIVITY} ORDER BY id")
        ids = itertools.chain.from_iterable(iter(lambda: self.cursor.fetchmany(10_000), []))
        announce_activities(row[0] for row in ids)
