"""Throughput of the batch contact services against the raw database.

    .venv/bin/python bench/subscribe.py [--contacts N] [--batch B] [--engine postgres|sqlite]

Subscribes N new addresses through ``subscribe_contacts`` in batches of B,
writes three profile values to each through ``update_profiles``, and times the
raw database doing the same inserts and updates (contacts, activity rows)
with plain ``executemany`` in the same run. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, cast

from _setup import fresh_database, start_django

if TYPE_CHECKING:
    from contacts.models import Contact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--engine", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    with fresh_database(args.engine) as url:
        start_django(url)
        print(json.dumps(run(args.contacts, args.batch)))


def run(count: int, batch: int) -> dict[str, object]:
    from django.db import connection

    from contacts.services import UpdateType, subscribe_contacts, update_profiles
    from lists.models import DataType, List, ProfileField, ProfileFieldGroup

    service_list = List.objects.create(name="bench services")
    raw_list = List.objects.create(name="bench raw")
    group = ProfileFieldGroup.objects.create(list=service_list, name="g")
    fields = [
        ProfileField.objects.create(group=group, name="First", data_type=DataType.TEXT),
        ProfileField.objects.create(group=group, name="Birthday", data_type=DataType.DATE),
        ProfileField.objects.create(group=group, name="Points", data_type=DataType.NUMERIC),
    ]
    emails = [f"bench{n}@example.com" for n in range(count)]

    started = time.perf_counter()
    for start in range(0, count, batch):
        subscribe_contacts(
            email_list=service_list, emails=emails[start : start + batch], method="Bench"
        )
    subscribe_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, count, batch):
        results = subscribe_contacts(
            email_list=service_list, emails=emails[start : start + batch], method="Bench"
        )
        update_profiles(
            email_list=service_list,
            updates=[
                # Every address is new, so every result has its contact.
                (
                    cast("Contact", r.contact),
                    {fields[0]: "Ada", fields[1]: "12/10/1815", fields[2]: n},
                )
                for n, r in enumerate(results)
            ],
            update_type=UpdateType.UPDATE,
        )
    profile_seconds = time.perf_counter() - started

    started = time.perf_counter()
    raw_subscribe(connection, raw_list.pk, emails, batch)
    raw_seconds = time.perf_counter() - started

    return {
        "bench": "subscribe",
        "database": connection.vendor,
        "contacts": count,
        "batch": batch,
        "subscribe_seconds": round(subscribe_seconds, 3),
        "subscribe_per_s": round(count / subscribe_seconds),
        "resubscribe_and_profile_seconds": round(profile_seconds, 3),
        "baseline_seconds": round(raw_seconds, 3),
        "ratio": round(subscribe_seconds / raw_seconds, 2),
    }


CONTACT_INSERT = (
    "INSERT INTO contacts_contact (list_id, email, email_key,"
    " external_contact_id, state, subscribed_at, subscribe_method, unsubscribe_method,"
    " profile, created_at, updated_at)"
    " VALUES (%s, %s, %s, '', 'Subscribed', %s, 'Bench', '', '{}', %s, %s)"
)
ACTIVITY_INSERT = (
    "INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)"
    " SELECT id, list_id, email, 'subscribed', created_at, '{\"method\": \"Bench\"}'"
    " FROM contacts_contact WHERE list_id = %s AND created_at = %s"
)


def raw_subscribe(connection, list_id: int, emails: list[str], batch: int) -> None:
    """The same rows a first-time subscription writes, inserted directly."""
    import datetime

    from django.db import transaction
    from django.utils import timezone

    from contacts.models import new_email_key

    for start in range(0, len(emails), batch):
        part = emails[start : start + batch]
        now = timezone.now() + datetime.timedelta(microseconds=start)  # marks this batch
        rows = [(list_id, e, new_email_key(), now, now, now) for e in part]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(CONTACT_INSERT, rows)
            cursor.execute(ACTIVITY_INSERT, [list_id, now])


if __name__ == "__main__":
    main()
