"""How fast Go To criteria count the contacts they match on a big list: a
profile comparison and an engagement condition, each against the same count
written by hand in SQL.

    .venv/bin/python bench/criteria.py [--contacts 1000000] [--activities 10000000]

What it measures, on a throwaway PostgreSQL cluster (or DATABASE_URL when it
is PostgreSQL):

1. Set-up, set-based in SQL (``generate_series``, seeded ``random()``), not
   timed: a list with a Numeric field Points (0-99) and N subscribed
   contacts; a conversation sending 20 messages of 3 links each; M activities
   of random contacts over the last 90 days, as the tracking records them
   (details with ``message_id``, ``delivery_id``, ``conversation_id``; clicks
   with ``link_kind``, ``link_id``, ``link_url``): 50% sent, 30% opened, 15%
   clicked, 5% profile updates. The activity indexes are dropped for the
   load and built after it (as ``CREATE INDEX`` after a bulk load), then ANALYZE.
2. Each count is timed best of 3, through the platform (``parse_criteria``
   then ``Contact.objects.filter(list=…).filter(criteria_q(…)).count()``)
   and as hand-written SQL; ``*_ratio`` = platform / SQL:

   - ``profile``: Points GreaterThan 49;
   - ``engagement``: Opened message 1 within 30 days AndNot Clicked message 1
     (any time);
   - ``batch``: the same engagement criteria over 1,000 random contacts
     (``pk__in``), as the engine's Go To asks for one batch of enrollments.

   The two counts of each pair must agree (else the script fails).
3. ``narrow_*``: the engagement and batch counts again with the activity
   index as it was before migration ``conductor.0012`` (conversation and kind
   only, no statistics on the JSON keys), to show what 0012 buys; then it is
   put back.

The plans (``EXPLAIN ANALYZE``, costs and timings left out) go to stderr,
and their shape (node and index names, outermost first) into the last line,
one JSON object. Sizes: ``activity_mb`` is the table, ``index_mb`` the
``activity_conversation`` index (it holds the opens, clicks and other
engagement, not the sends).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from _setup import ROOT, fresh_database, start_django

MESSAGES = 20
LINKS_PER_MESSAGE = 3
DAYS = 90
BATCH = 1_000
ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.contacts < BATCH or args.activities < 1:
        raise SystemExit(f"--contacts must be at least {BATCH} and --activities at least 1.")
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/criteria.py measures PostgreSQL; DATABASE_URL is not.")
        figures, problems = measure(args.contacts, args.activities)
        print(json.dumps(figures))
    if problems:
        raise SystemExit("checks failed: " + "; ".join(problems))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Set-up ------------------------------------------------------------------------------

CONTACTS_SQL = """
INSERT INTO contacts_contact (list_id, email, email_key, external_contact_id, state,
    subscribed_at, subscribe_method, unsubscribe_method, profile, created_at, updated_at)
SELECT %(list)s, 'c' || n || '@example.com', md5('c' || n), '', 'Subscribed',
       now(), 'API', '', jsonb_build_object(%(points)s::text, (floor(random() * 100))::text),
       now(), now()
FROM generate_series(1, %(count)s) AS n
"""
# One row per activity: its contact, message (1..20 of the bench's), link (1..3) and kind.
ACTIVITY_SQL = """
INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)
SELECT r.contact, %(list)s, '', r.kind,
       now() - random() * interval '90 days',
       CASE WHEN r.kind = 'profile_updated'
            THEN jsonb_build_object('update_type', 'Overwrite', 'changes', '{}'::jsonb)
            ELSE jsonb_build_object('message_id', (%(messages)s::bigint[])[r.message],
                                    'delivery_id', r.n,
                                    'conversation_id', %(conversation)s::bigint)
                 || CASE WHEN r.kind = 'email_clicked' THEN jsonb_build_object(
                        'link_kind', 'link',
                        'link_id',
                        (%(links)s::bigint[])[(r.message - 1) * %(links_count)s + r.link],
                        'link_url', 'https://shop.example/' || r.message || '/' || r.link)
                    ELSE '{}'::jsonb END
       END
FROM (
    SELECT n, %(first)s + floor(random() * %(contacts)s)::bigint AS contact,
           1 + floor(random() * %(messages_count)s)::int AS message,
           1 + floor(random() * %(links_count)s)::int AS link,
           CASE WHEN k < 0.50 THEN 'email_sent' WHEN k < 0.80 THEN 'email_opened'
                WHEN k < 0.95 THEN 'email_clicked' ELSE 'profile_updated' END AS kind
    FROM (SELECT n, random() AS k FROM generate_series(1, %(count)s) AS n) AS drawn
) AS r
"""


class Bench:
    """The list, its field, the conversation and its messages' ids."""

    def __init__(self, contacts: int, activities: int) -> None:
        from django.db import connection, transaction

        from conductor.versions import create_conversation
        from emails.models import Message, MessageLink
        from emails.tracking.links import url_hash
        from lists.models import DataType, List, ProfileField, ProfileFieldGroup

        self.list = List.objects.create(name="bench criteria")
        group = ProfileFieldGroup.objects.create(list=self.list, name="Bench")
        self.points = ProfileField.objects.create(
            list=self.list, group=group, name="Points", data_type=DataType.NUMERIC
        )
        self.conversation = create_conversation(email_list=self.list, name="Bench")
        self.messages = [
            Message.objects.create(list=self.list, name=f"M{n}", subject="s", text_body="t")
            for n in range(1, MESSAGES + 1)
        ]
        links = [
            MessageLink.objects.create(message=m, url=url, url_hash=url_hash(url))
            for m in self.messages
            for url in (f"https://shop.example/{m.name}/{k}" for k in range(LINKS_PER_MESSAGE))
        ]
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(
                CONTACTS_SQL, {"list": self.list.pk, "points": self.points.key, "count": contacts}
            )
            cursor.execute(
                "SELECT min(id) FROM contacts_contact WHERE list_id = %s", [self.list.pk]
            )
            first = cursor.fetchone()[0]
            indexes = activity_indexes(cursor)
            for name in indexes:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute(
                ACTIVITY_SQL,
                {
                    "list": self.list.pk,
                    "conversation": self.conversation.pk,
                    "messages": [m.pk for m in self.messages],
                    "links": [link.pk for link in links],
                    "messages_count": MESSAGES,
                    "links_count": LINKS_PER_MESSAGE,
                    "first": first,
                    "contacts": contacts,
                    "count": activities,
                },
            )
            loaded = time.perf_counter()
            for definition in indexes.values():
                cursor.execute(definition)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        log(
            f"set-up: {contacts} contacts, {activities} activities loaded in "
            f"{loaded - started:.1f} s, indexes built in {time.perf_counter() - loaded:.1f} s"
        )


def activity_indexes(cursor: Any) -> dict[str, str]:
    """``{name: CREATE INDEX …}`` of the activity table's indexes but its key."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes"
        " WHERE tablename = 'contacts_activity' AND indexname <> 'contacts_activity_pkey'"
    )
    return dict(cursor.fetchall())


# --- The counts ------------------------------------------------------------------------------

PROFILE_RAW = """
SELECT count(*) FROM contacts_contact c
WHERE c.list_id = %(list)s
  AND (CASE WHEN c.profile ->> %(points)s ~ %(pattern)s
            THEN (c.profile ->> %(points)s)::numeric END) > 49
"""
ENGAGED = """
SELECT 1 FROM contacts_activity a
WHERE a.contact_id = c.id AND a.kind = '{kind}'
  AND a.details -> 'conversation_id' = to_jsonb(%(conversation)s::bigint)
  AND a.details -> 'message_id' = to_jsonb(%(message)s::bigint) {since}
"""
ENGAGEMENT_RAW = f"""
SELECT count(*) FROM contacts_contact c
WHERE {{contacts}}
  AND EXISTS ({ENGAGED.format(kind="email_opened", since="AND a.occurred_at >= %(since)s")})
  AND NOT EXISTS ({ENGAGED.format(kind="email_clicked", since="")})
"""


def measure(contacts: int, activities: int) -> tuple[dict[str, Any], list[str]]:
    from django.db import connection
    from django.utils import timezone

    from conductor.filters import criteria_q, parse_criteria
    from contacts.models import Contact
    from lists.field_types import NUMERIC_PATTERN

    bench = Bench(contacts, activities)
    message = bench.messages[0].pk
    profile = {
        "segmentationFieldId": bench.points.pk,
        "compareType": "GreaterThan",
        "values": [{"value": "49"}],
    }
    engagement = {
        "filters": [
            {"engagement": "Opened", "message": message, "withinDays": 30},
            {"joinType": "AndNot", "engagement": "Clicked", "message": message},
        ]
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM contacts_contact WHERE list_id = %s ORDER BY md5(id::text) LIMIT %s",
            [bench.list.pk, BATCH],
        )
        batch_ids = [row[0] for row in cursor.fetchall()]

    # One "now" for every count: "within 30 days" must mean the same days to
    # both sides of a pair, however long the counts take.
    now = timezone.now()

    def platform(data: dict[str, Any], batch: bool = False) -> Callable[[], int]:
        def count() -> int:
            criteria = parse_criteria(bench.list, data, conversation_id=bench.conversation.pk)
            chosen = Contact.objects.filter(pk__in=batch_ids) if batch else bench.list.contacts
            return chosen.filter(criteria_q(criteria, now=now)).count()

        return count

    def raw(sql: str) -> Callable[[], int]:
        params: dict[str, Any] = {
            "list": bench.list.pk,
            "points": bench.points.key,
            "pattern": NUMERIC_PATTERN,
            "conversation": bench.conversation.pk,
            "message": message,
            "ids": batch_ids,
        }

        def count() -> int:
            with connection.cursor() as cursor:
                since = now - datetime.timedelta(days=30)
                cursor.execute(sql, {**params, "since": since})
                return cursor.fetchone()[0]

        return count

    whole_list = ENGAGEMENT_RAW.format(contacts="c.list_id = %(list)s")
    one_batch = ENGAGEMENT_RAW.format(contacts="c.id = ANY(%(ids)s)")
    figures: dict[str, Any] = {"bench": "criteria", "contacts": contacts, "activities": activities}
    problems: list[str] = []
    pairs = {
        "profile": (platform(profile), raw(PROFILE_RAW)),
        "engagement": (platform(engagement), raw(whole_list)),
        "batch": (platform(engagement, batch=True), raw(one_batch)),
    }
    for name, (ours, theirs) in pairs.items():
        problems += compare(figures, name, ours, theirs)
    figures["plans"] = {name: plan_shape(pair[0]) for name, pair in pairs.items()}
    figures.update(sizes())
    with connection.cursor() as cursor:
        narrow_index(cursor)
        try:
            for name in ("engagement", "batch"):
                problems += compare(figures, name, *pairs[name], prefix="narrow_")
                figures["plans"][f"narrow_{name}"] = plan_shape(pairs[name][0])
        finally:
            wide_index(cursor)
    figures["plans"] = figures.pop("plans")  # last: the longest
    return figures, problems


def compare(
    figures: dict[str, Any],
    name: str,
    ours: Callable[[], int],
    theirs: Callable[[], int],
    prefix: str = "",
) -> list[str]:
    """Time both counts (best of 3, alternating) and record them."""
    our_times, their_times = [], []
    found = expected = 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        found = ours()
        our_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        expected = theirs()
        their_times.append(time.perf_counter() - started)
    best, floor = min(our_times), min(their_times)
    key = f"{prefix}{name}"
    figures[f"{key}_matching"] = found
    figures[f"{key}_ms"] = round(best * 1000, 1)
    figures[f"{key}_raw_ms"] = round(floor * 1000, 1)
    figures[f"{key}_ratio"] = round(best / floor, 2)
    log(f"{key}: {found} contacts in {best * 1000:.1f} ms; raw SQL {floor * 1000:.1f} ms")
    return [] if found == expected else [f"{key}: {found} contacts, raw SQL counts {expected}"]


def plan_shape(count: Callable[[], int]) -> list[str]:
    """The plan of the count query ``count`` runs: its nodes (with their
    indexes and index conditions), outermost first, indented by depth; the
    whole plan to stderr."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        count()
    sql = queries[-1]["sql"]  # the count; parsing the criteria reads before it
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}")
        lines = [row[0] for row in cursor.fetchall()]
    log("\n".join(lines) + "\n")
    shape: list[str] = []
    for n, line in enumerate(lines):
        if line.lstrip().startswith("Index Cond"):  # what an index scan looks up
            indent = len(shape[-1]) - len(shape[-1].lstrip()) + 2
            # The batch's thousand ids would fill the line: "ANY ('{…}')" says enough.
            looked_up = re.sub(r"ANY \('\{[^}]*\}'", "ANY ('{…}'", line.strip())
            shape.append(" " * indent + looked_up)
            continue
        if n and not line.lstrip().startswith("->"):
            continue  # another detail of a node (Filter, Hash Cond…)
        depth = (len(line) - len(line.lstrip()) + 4) // 6 if n else 0  # 6 spaces a level
        node = line.strip().removeprefix("->").strip().split(" (actual")[0]
        shape.append("  " * depth + node)
    return shape


def sizes() -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('contacts_activity'),"
            " pg_relation_size('activity_conversation')"
        )
        table, index = cursor.fetchone()
    return {"activity_mb": round(table / 2**20, 1), "index_mb": round(index / 2**20, 1)}


def _migration() -> Any:
    return importlib.import_module("conductor.migrations.0012_activity_engagement_index")


def _index_sql(columns: str) -> str:
    migration = _migration()
    kinds = ", ".join(f"'{kind}'" for kind in migration.KINDS)
    return (
        f"CREATE INDEX {migration.NAME} ON contacts_activity ({columns})"
        f" WHERE kind IN ({kinds}) AND {migration.CONVERSATION} IS NOT NULL"
    )


def narrow_index(cursor: Any) -> None:
    """The activity index as migration 0005 made it (conversation and kind),
    without the statistics 0012 adds."""
    migration = _migration()
    cursor.execute(f"DROP STATISTICS {migration.STATISTICS}")
    cursor.execute(f"DROP INDEX {migration.NAME}")
    cursor.execute(_index_sql(migration.NARROW))
    cursor.execute("ANALYZE contacts_activity")


def wide_index(cursor: Any) -> None:
    """Back as migration 0012 makes it."""
    migration = _migration()
    cursor.execute(f"DROP INDEX {migration.NAME}")
    cursor.execute(_index_sql(migration.WIDE))
    cursor.execute(
        f"CREATE STATISTICS {migration.STATISTICS} ON {migration.CONVERSATION},"
        f" {migration.MESSAGE} FROM contacts_activity"
    )
    cursor.execute("ANALYZE contacts_activity")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
