"""Import throughput on PostgreSQL against the raw database doing the same load.

    .venv/bin/python bench/import.py [--rows N] [--keep-files]

Generates a CSV of N rows (an address and five profile fields: text, text,
date, numeric, check box), imports it into a fresh list through the importer
(``run_import``: COPY, set-based rules, per-row results, activity), then
imports a second file with the same addresses and changed values (all
already subscribed, every profile updated). In the same run it times the raw
baseline: COPY of the first file into an unlogged table plus one
``INSERT ... SELECT ... ON CONFLICT`` into the contacts table. Uses
``DATABASE_URL`` when set, else a throwaway PostgreSQL cluster. The last line
is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from _setup import fresh_database, start_django

FIRST = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Margaret", "Donald", "Frances"]
LAST = ["Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Hamilton", "Knuth", "Allen"]


def write_csv(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["Email", "First Name", "Last Name", "Birthday", "Points", "VIP"])
        for n in range(rows):
            out.writerow(
                [
                    f"customer{n}@example.com",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/19{rng.randint(40, 99)}",
                    f"{rng.randint(0, 999999) / 100}",
                    rng.choice(["on", "off"]),
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, fresh_database("postgres") as url:
        first, second = Path(directory, "first.csv"), Path(directory, "second.csv")
        print(f"writing {args.rows} rows twice…", file=sys.stderr)
        write_csv(first, args.rows, seed=1)
        write_csv(second, args.rows, seed=2)
        start_django(url)
        from django.conf import settings

        settings.MEDIA_ROOT = directory
        print(json.dumps(run(first, second, args.rows)))


def run(first: Path, second: Path, rows: int) -> dict[str, object]:
    from django.core.files import File
    from django.db import connection

    from contacts.imports.models import ImportStatus, ListImport
    from contacts.imports.run import run_import
    from lists.models import DataType, List, ProfileField, ProfileFieldGroup

    if connection.vendor != "postgresql":
        raise SystemExit(
            "bench/import.py measures the PostgreSQL path; DATABASE_URL is not PostgreSQL."
        )
    email_list = List.objects.create(name="bench import")
    group = ProfileFieldGroup.objects.create(list=email_list, name="Profile")
    for position, (name, data_type) in enumerate(
        [
            ("First Name", DataType.TEXT),
            ("Last Name", DataType.TEXT),
            ("Birthday", DataType.DATE),
            ("Points", DataType.NUMERIC),
            ("VIP", DataType.CHECK_BOX),
        ]
    ):
        ProfileField.objects.create(group=group, name=name, data_type=data_type, position=position)

    def timed_import(path: Path) -> tuple[float, ListImport]:
        list_import = ListImport(list=email_list, file_name=path.name)
        with open(path, "rb") as stream:
            list_import.file.save(path.name, File(stream), save=True)
        started = time.perf_counter()
        done = run_import(list_import.pk)
        seconds = time.perf_counter() - started
        if done.status != ImportStatus.PROCESSING_COMPLETED:
            raise SystemExit(f"import failed: {done.error}")
        print(f"{path.name}: {seconds:.2f} s, {done.summary()}", file=sys.stderr)
        return seconds, done

    seconds, done = timed_import(first)
    assert done.subscribed_count == rows, done.summary()
    reimport_seconds, again = timed_import(second)
    assert again.already_subscribed_count == rows, again.summary()
    baseline_seconds = baseline(first)
    print(f"baseline: {baseline_seconds:.2f} s", file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "bench": "import",
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "reimport_seconds": round(reimport_seconds, 2),
        "baseline_seconds": round(baseline_seconds, 2),
        "ratio": round(seconds / baseline_seconds, 2),
        "peak_rss_mb": round(peak),
    }


def baseline(path: Path) -> float:
    """The raw database: COPY the file, then one INSERT ... ON CONFLICT."""
    from django.db import connection, transaction

    from lists.models import List

    raw_list = List.objects.create(name="bench baseline")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_rows (email text, first_name text, last_name text,"
            " birthday text, points text, vip text)"
        )
        copy_sql = "COPY bench_rows FROM STDIN (FORMAT csv, HEADER true)"
        with cursor.cursor.copy(copy_sql) as copy, open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        cursor.execute(
            """
            INSERT INTO contacts_contact (list_id, email, email_key, external_contact_id,
                state, subscribed_at, subscribe_method, unsubscribe_method, profile,
                created_at, updated_at)
            SELECT %s, lower(email), left(md5(gen_random_uuid()::text), 32), '', 'Subscribed',
                   now(),
                   'List Import', '', jsonb_build_object('1', first_name, '2', last_name,
                   '3', birthday, '4', points, '5', vip), now(), now()
            FROM bench_rows
            ON CONFLICT (list_id, email) DO UPDATE SET profile = EXCLUDED.profile
            """,
            [raw_list.pk],
        )
        cursor.execute("DROP TABLE bench_rows")
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
