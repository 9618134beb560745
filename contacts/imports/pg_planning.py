"""Planning for the PostgreSQL import path: one statement decides every row.

From the staged rows (``pg_staging.RAW``) it builds the plan table: each row's
address checked, its last occurrence found, its contact, ban and suppression
joined, its result and reason decided by the rule table (``rules``), and the
values it writes cleaned. The writes (``pg_writing``) read only the plan.

The value grammar (``lists.field_types``) and the address rule
(``contacts.addresses``) reach SQL through their shared regular expressions,
and the messages are composed the same way, so both paths report a refused
value in the same words (``tests/test_imports.py`` runs on both).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

from django.db.backends.utils import CursorWrapper

from contacts.addresses import ADDRESS_PATTERN, MAX_LENGTH, MAX_LOCAL_LENGTH
from contacts.imports.models import ListImport, RowResult
from contacts.imports.pg_staging import RAW
from contacts.imports.rows import APPLIES_VALUES
from contacts.imports.rules import STATES, Rule, Situation, reason_around, rules_for
from contacts.imports.source import Layout
from contacts.imports.sql import Bind, clean_value_sql, table, trim
from contacts.models import Ban, Contact, Suppression

#: One row per staged row: ``row_number, given, addr, contact_id, state, result,
#: reason``, the event cells ``e0, e1, …`` and the values to write (see ``_values``).
PLAN = "import_plan"
#: The columns of ``joined`` telling whether the address is suppressed or banned.
_FLAGS = {Situation.SUPPRESSED: "suppressed", Situation.BANNED: "banned"}


def plan_rows(cursor: CursorWrapper, *, list_import: ListImport, layout: Layout) -> Counter[str]:
    """Create the plan table ``PLAN`` from the staged rows; return the count of
    each result (and of refused values, as ``invalid_values``)."""
    planner = _Planner(list_import, layout)
    cursor.execute(planner.statement(), planner.bind.params)
    cursor.execute(
        f"SELECT result, count(*), sum(cardinality(problems)) FROM {PLAN} GROUP BY result"
    )
    tally: Counter[str] = Counter()
    for result, count, problems in cursor.fetchall():
        tally[result] = count
        tally["invalid_values"] += problems or 0
    return tally


def in_situations(situations: Iterable[Situation], bind: Bind, row: str = "") -> str:
    """SQL true for a row in any of ``situations``; ``row`` is the row's
    alias with its dot (``"p."``), or empty."""
    situations = list(situations)
    holds = [f"{row}{flag}" for s, flag in _FLAGS.items() if s in situations]
    if Situation.NEW in situations:
        holds.append(f"{row}contact_id IS NULL")
    states = [s for s in STATES if s in situations]
    if len(states) == 1:
        holds.append(f"{row}state = {bind(states[0])}")
    elif states:
        holds.append(f"{row}state IN ({bind.each(states)})")
    return " OR ".join(holds)


def applies(row: str, bind: Bind) -> str:
    """SQL true for a row whose values are written and whose events fire;
    ``row`` as for ``in_situations``."""
    return f"{row}result IN ({bind.each(sorted(APPLIES_VALUES))})"


class _Planner:
    def __init__(self, list_import: ListImport, layout: Layout) -> None:
        self.list_import = list_import
        self.layout = layout
        self.rules = rules_for(list_import.import_type)
        self.bind = Bind(list=list_import.list_id)

    def statement(self) -> str:
        """Each row's address checked, its last occurrence found, its contact,
        ban and suppression joined, its result decided and its values cleaned."""
        bind, layout = self.bind, self.layout
        picks = [f"{trim(f'r.c{i}', bind)} AS v{n}" for n, (i, _) in enumerate(layout.fields)]
        picks += [f"{trim(f'r.c{i}', bind)} AS e{n}" for n, (i, _) in enumerate(layout.events)]
        extra = "".join(f", {pick}" for pick in picks)
        email = trim(f"r.c{layout.email_index}", bind)
        cleaned, values = self._values()
        events = "".join(f", x.e{n}" for n in range(len(layout.events)))
        result, reason = self._decisions()
        return f"""
            CREATE TEMPORARY TABLE {PLAN} ON COMMIT DROP AS
            WITH norm AS (
              SELECT r.row_number, r.problem, coalesce(left({email}, {MAX_LENGTH}), '') AS given,
                     lower(coalesce({email}, '')) AS addr{extra}
              FROM {RAW} r
              OFFSET 0
            ), checked AS (
              SELECT n.*, CASE
                  WHEN n.problem IS NOT NULL THEN n.problem
                  WHEN n.addr = '' THEN {bind("The email address is empty.")}
                  WHEN length(n.addr) > {MAX_LENGTH} THEN {bind("The email address '")}
                    || left(n.addr, 40) || {bind(f"…' is longer than {MAX_LENGTH} characters.")}
                  WHEN n.addr !~ {bind(ADDRESS_PATTERN)}
                    OR strpos(n.addr, '@') > {MAX_LOCAL_LENGTH + 1}
                    THEN '''' || n.given || {bind("' is not a valid email address.")}
                END AS invalid
              FROM norm n
            ), latest AS (
              SELECT addr, max(row_number) AS last_row FROM checked
              WHERE invalid IS NULL GROUP BY addr
            ), ranked AS (
              SELECT c.*, l.last_row FROM checked c LEFT JOIN latest l ON l.addr = c.addr
            ), joined AS (
              SELECT k.*, ct.id AS contact_id, ct.state, ct.profile,
                     b.email IS NOT NULL AS banned, s.email IS NOT NULL AS suppressed
              FROM ranked k
              LEFT JOIN {table(Contact)} ct
                ON ct.list_id = %(list)s AND ct.email = k.addr
               AND k.invalid IS NULL AND k.row_number = k.last_row
              LEFT JOIN {table(Ban)} b
                ON b.list_id = %(list)s AND b.email = k.addr AND k.invalid IS NULL
              LEFT JOIN {table(Suppression)} s ON s.email = k.addr AND k.invalid IS NULL
            )
            -- OFFSET 0 keeps each level a separate scan: flattened, the result and
            -- every cleaned value would be computed again wherever they are used.
            SELECT x.row_number, x.given, x.addr, x.contact_id, x.state, x.result,
                   x.reason{events}{values} FROM (
              SELECT d.*{cleaned} FROM (
                SELECT j.*, {result} AS result, {reason} AS reason
                FROM joined j
                OFFSET 0) AS d
              OFFSET 0) AS x
            """

    def _decisions(self) -> tuple[str, str]:
        """The CASEs giving each row its result and its reason: invalid and
        repeated rows first, then the rule of the first situation that holds
        (neighbours with the same rule share a WHEN; the last one is the ELSE,
        as the rules cover every state)."""
        bind = self.bind
        again = f"{bind('The address appears again in row ')} || last_row || '.'"
        results = [
            f"WHEN invalid IS NOT NULL THEN {bind(RowResult.INVALID)}",
            f"WHEN row_number <> last_row THEN {bind(RowResult.SKIPPED)}",
        ]
        reasons = [
            "WHEN invalid IS NOT NULL THEN invalid",
            f"WHEN row_number <> last_row THEN {again}",
        ]
        explained: list[tuple[str, str | None]] = []
        groups = [
            (in_situations([s for s, _ in group], bind), rule)
            for rule, group in itertools.groupby(self.rules.items(), key=lambda item: item[1])
        ]
        for n, (holds, rule) in enumerate(groups):
            when = "ELSE" if n == len(groups) - 1 else f"WHEN {holds} THEN"
            results.append(f"{when} {bind(rule.result)}")
            explained.append((holds, self._reason(rule)))
        # Past the last situation with a reason, no reason is NULL anyway.
        while explained and explained[-1][1] is None:
            explained.pop()
        reasons += [f"WHEN {holds} THEN {reason or 'NULL'}" for holds, reason in explained]
        return self._case(results), self._case(reasons)

    @staticmethod
    def _case(whens: list[str]) -> str:
        lines = "".join(f"\n              {when}" for when in whens)
        return f"CASE{lines}\n            END"

    def _reason(self, rule: Rule) -> str | None:
        """The rule's reason as SQL, the row's address in its places."""
        texts = reason_around(rule, self.list_import.list.name)
        if not texts:
            return None
        parts: list[str] = []
        for n, text in enumerate(texts):
            if n:
                parts.append("addr")
            if text:
                parts.append(self.bind(text))
        return " || ".join(parts)

    def _values(self) -> tuple[str, str]:
        """For the rows whose values are written: each value cleaned once
        (``k0, k1, …``), then the cleaned values, the fields given blank, and a
        message for each refused value, which is only worked out for those."""
        if not self.layout.fields:
            none = (
                ", NULL::jsonb AS old_values, NULL::jsonb AS new_values, NULL::text[] AS blanks,"
                " NULL::text[] AS problems"
            )
            return "", none
        bind = self.bind
        cleaned, keys, canon, problems, blanks, refused = [], [], [], [], [], []
        for n, (index, field) in enumerate(self.layout.fields):
            value, _ = clean_value_sql(f"d.v{n}", field, bind)
            _, problem = clean_value_sql(f"x.v{n}", field, bind)
            cleaned.append(
                f", CASE WHEN {applies('d.', bind)} AND d.v{n} <> '' THEN {value} END AS k{n}"
            )
            column = bind(f"Column '{self.layout.column_name(index)}': ")
            keys.append(bind(field.key))
            canon.append(f"x.k{n}")
            refused.append(f"(x.v{n} <> '' AND x.k{n} IS NULL)")
            problems.append(f"CASE WHEN {refused[-1]} THEN {column} || ({problem}) END")
            blanks.append(f"CASE WHEN coalesce(x.v{n}, '') = '' THEN {bind(field.key)} END")
        written = applies("x.", bind)
        # Only Overwrite blanks fields, and only rows with a refused value need messages.
        # The values are built from two arrays: jsonb_build_object, with its
        # variadic arguments, costs twice as much per row.
        blank_fields = "NULL::text[]"
        if self.list_import.segmentation_type == "Overwrite":
            blank_list = ", ".join(blanks)
            blank_fields = (
                f"CASE WHEN {written} THEN array_remove(ARRAY[{blank_list}]::text[], NULL) END"
            )
        return (
            "".join(cleaned),
            f""",
              CASE WHEN {written} THEN x.profile END AS old_values,
              CASE WHEN {written} THEN jsonb_strip_nulls(jsonb_object(
                ARRAY[{", ".join(keys)}]::text[], ARRAY[{", ".join(canon)}]::text[]))
              END AS new_values,
              {blank_fields} AS blanks,
              CASE WHEN {written} AND ({" OR ".join(refused)})
                   THEN array_remove(ARRAY[{", ".join(problems)}]::text[], NULL) END AS problems""",
        )
