"""Throughput of the API's contact post under load, against the raw database.

    .venv/bin/python bench/api.py [--seconds 20] [--connections 16]
                                  [--worker-class sync|gthread] [--threads N]

What it measures: ``POST /email/v1/List/{listId}/Contact`` (create or update
one contact with four profile values) served by the production server,
gunicorn with 2 workers, on a throwaway PostgreSQL cluster. ``wrk`` keeps
``--connections`` connections busy for ``--seconds`` (bench/api_post.lua):
three requests in four create a new address, one in four re-posts an older
one with changed values. The client authenticates as a real one does: a
bearer token from ``POST /OAuth2/Token``.

Worker class: ``sync`` (the default here) served best on the 2-core
machine, quiet. At commit 1692d15: sync 262-272 requests/s, p99 65-68 ms;
gthread with 2 threads 250/s, p99 87 ms; with 4 threads 218/s, p99 159 ms.
At 2650de7, three rounds each: sync 176-191/s, p99 90-104 ms; gthread with
2, 4, 8 threads 174-183, 167-181, 154-171/s, p99 130-199 ms. A request is
milliseconds of CPU-bound Python, so threads in one worker only take turns
on the GIL and stretch every request; the TCP connect a sync worker adds per
request (it closes the connection after each answer) costs far less.
``--worker-class gthread --threads N`` reruns the comparison.

The baseline is the raw database doing the same writes in the same run:
as many threads as connections, each with its own psycopg connection, run
per request one transaction of ``INSERT INTO contacts_contact ... ON
CONFLICT (list_id, email) DO UPDATE`` and one ``INSERT INTO
contacts_activity``, for as many seconds, with the same mix of creates and
updates and the same values.

How to read the figures (last line, one JSON object):

- ``requests_per_s``: answered requests per second; ``p99_ms``: 99th
  percentile latency seen by the client (includes waiting for a worker).
- ``errors``: non-2xx answers, socket errors (connect, read, write,
  timeout), lost writes (an address answered 2xx that is not in the
  database afterwards) and contacts of addresses never sent. Should be 0.
- ``ratio``: baseline_requests_per_s / requests_per_s, i.e. how many times
  more contact writes per second the database alone sustains than the API
  does: what the Python (Django, DRF, OAuth, the services) costs per request.

The machine's cores are shared by the server, PostgreSQL and wrk; compare
figures from the same machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from _setup import ROOT, fresh_database, start_django
from _web import get_token, serve
from _wrk import WrkFigures, ensure_wrk, parse_wrk, warn_if_busy

LUA_SCRIPT = ROOT / "bench" / "api_post.lua"
FIELDS = [("First Name", "Text"), ("Points", "Numeric"), ("Birthday", "Date"), ("VIP", "CheckBox")]
UPDATE_EVERY = 4  # one request in four re-posts an earlier address (as api_post.lua does)


@dataclass
class Setup:
    list_id: int
    baseline_list_id: int
    fields: list[tuple[int, str]]  # (profile field id, data type)
    client_id: str
    client_secret: str


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=2, help="per gthread worker")
    args = parser.parse_args()
    ensure_wrk()
    warn_if_busy()
    with fresh_database("postgres") as url:
        start_django(url)
        print(json.dumps(run(url, args)))


def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/api.py measures PostgreSQL; DATABASE_URL is not PostgreSQL.")
    setup = prepare()
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "gunicorn.log"
        with serve(url, log, worker_class=args.worker_class, threads=args.threads) as base_url:
            token = get_token(base_url, setup.client_id, setup.client_secret)
            warm_up(base_url, setup, token)
            counters_path = Path(directory) / "counters.json"
            figures = run_wrk(base_url, setup, token, args, counters_path)
        # The server has stopped gracefully: every request it accepted is finished.
        counters = json.loads(counters_path.read_text())
    print(figures.output, file=sys.stderr)
    errors = count_errors(setup, counters, figures)
    baseline = run_baseline(url, setup, seconds=args.seconds, threads=args.connections)
    requests_per_s = figures.requests / figures.seconds
    print(
        f"API: {requests_per_s:.0f} requests/s ({args.worker_class}), "
        f"baseline: {baseline:.0f} requests/s",
        file=sys.stderr,
    )
    return {
        "bench": "api",
        "requests": figures.requests,
        "seconds": round(figures.seconds, 2),
        "requests_per_s": round(requests_per_s),
        "p99_ms": round(figures.p99_ms, 1),
        "errors": errors,
        "baseline_requests_per_s": round(baseline),
        "ratio": round(baseline / requests_per_s, 2),
    }


# --- Set-up -------------------------------------------------------------------


def prepare() -> Setup:
    """A list with four profile fields, an empty list for the baseline, and an API client."""
    from api.services import create_api_client
    from lists.models import List, ProfileField, ProfileFieldGroup

    email_list = List.objects.create(name="bench api")
    group = ProfileFieldGroup.objects.create(list=email_list, name="Profile")
    fields = [
        ProfileField.objects.create(group=group, name=name, data_type=data_type, position=n)
        for n, (name, data_type) in enumerate(FIELDS)
    ]
    client, secret = create_api_client(name="bench", scopes=["Contact", "List"])
    return Setup(
        list_id=email_list.pk,
        baseline_list_id=List.objects.create(name="bench baseline").pk,
        fields=[(field.pk, field.data_type) for field in fields],
        client_id=client.application.client_id,
        client_secret=secret,
    )


def warm_up(base_url: str, setup: Setup, token: str) -> None:
    """A few authenticated reads, so both workers have loaded the views and
    connected to the database before the clock starts."""
    request = urllib.request.Request(
        f"{base_url}/email/v1/List/{setup.list_id}/Contact",
        headers={"Authorization": f"Bearer {token}"},
    )

    def read(_: int) -> None:
        urllib.request.urlopen(request, timeout=30).read()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(read, range(32)))


# --- Load ---------------------------------------------------------------------


def run_wrk(
    base_url: str, setup: Setup, token: str, args: argparse.Namespace, counters: Path
) -> WrkFigures:
    path = f"/email/v1/List/{setup.list_id}/Contact"
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_TOKEN": token,
        "BENCH_FIELDS": ",".join(f"{pk}:{data_type}" for pk, data_type in setup.fields),
        "BENCH_RESULT": str(counters),
    }
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(LUA_SCRIPT), base_url + path]
    print(f"wrk: {args.seconds} s, {args.connections} connections…", file=sys.stderr)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or done.stderr.strip() or not counters.exists():
        # A Lua error is printed on stderr while wrk itself goes on.
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


# --- Checks -------------------------------------------------------------------


def address(thread: int, n: int) -> str:
    return f"bench-t{thread}-{n}@example.com"


def count_errors(setup: Setup, counters: dict, figures: WrkFigures) -> int:
    """Failed requests plus lost writes, read from the script's counters and the database.

    Every address answered 2xx must be a contact; every contact must be an
    address that was sent. Contacts beyond the answered ones are requests
    still in flight when wrk stopped (the server finished them).
    """
    from contacts.models import Contact

    answered: set[str] = set()
    sent: set[str] = set()
    for thread in counters["threads"]:
        if "unrecognised" in thread["ok"]:
            raise SystemExit("A 2xx answer's resourceId is not the address; see api_post.lua.")
        answered.update(address(thread["id"], n) for n in thread["ok"])
        sent.update(address(thread["id"], n) for n in range(1, thread["sent_new"] + 1))
    stored = set(Contact.objects.filter(list_id=setup.list_id).values_list("email", flat=True))
    lost, stray = answered - stored, stored - sent
    non2xx = sum(thread["non2xx"] for thread in counters["threads"])
    socket_errors = sum(counters["socket_errors"].values())
    print(
        f"sent {sum(t['sent'] for t in counters['threads'])} requests, "
        f"{len(sent)} new addresses; {len(answered)} addresses answered 2xx; "
        f"{len(stored)} contacts stored ({len(stored - answered)} from requests in flight "
        f"at the end); non-2xx: {non2xx} (wrk: {figures.non2xx}); "
        f"socket errors: {counters['socket_errors']}; lost writes: {len(lost)}; "
        f"contacts never sent: {len(stray)}",
        file=sys.stderr,
    )
    return non2xx + socket_errors + len(lost) + len(stray)


# --- Baseline -----------------------------------------------------------------

CONTACT_UPSERT = """
    INSERT INTO contacts_contact (list_id, email, email_key, external_contact_id, state,
        subscribed_at, subscribe_method, unsubscribe_method, profile, created_at, updated_at)
    VALUES (%s, %s, %s, '', 'Subscribed', %s, 'API', '', %s, %s, %s)
    ON CONFLICT (list_id, email) DO UPDATE
        SET profile = contacts_contact.profile || EXCLUDED.profile,
            updated_at = EXCLUDED.updated_at
    RETURNING id, xmax = 0
"""
ACTIVITY_INSERT = """
    INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)
    VALUES (%s, %s, %s, %s, %s, %s)
"""


def run_baseline(url: str, setup: Setup, *, seconds: float, threads: int) -> float:
    """Requests per second of ``threads`` raw psycopg clients writing the same
    rows as the endpoint for ``seconds``."""
    import psycopg

    connections = [psycopg.connect(url) for _ in range(threads)]
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def client(number: int) -> None:
        start.wait()
        deadline = time.monotonic() + seconds
        counts[number] = write_contacts(connections[number], setup, number, deadline)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    print(f"baseline: {sum(counts)} requests in {elapsed:.2f} s", file=sys.stderr)
    return sum(counts) / elapsed


def write_contacts(conn, setup: Setup, thread: int, deadline: float) -> int:
    """What the endpoint writes per request, one transaction each, until
    ``deadline``; returns the number of requests."""
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from contacts.models import new_email_key

    sent = created = 0
    while time.monotonic() < deadline:
        sent += 1
        if sent % UPDATE_EVERY == 0:
            n, variant = random.randint(1, created), sent
        else:
            created += 1
            n, variant = created, 0
        email, profile = address(thread, n), profile_of(setup, n + variant)
        now = timezone.now()
        with conn.transaction():
            contact_id, inserted = conn.execute(
                CONTACT_UPSERT,
                (setup.baseline_list_id, email, new_email_key(), now, Jsonb(profile), now, now),
            ).fetchone()
            details: dict[str, object]
            if inserted:
                kind, details = "subscribed", {"method": "API"}
            else:
                changes = {key: {"new": value} for key, value in profile.items()}
                kind, details = "profile_updated", {"update_type": "Update", "changes": changes}
            conn.execute(
                ACTIVITY_INSERT,
                (contact_id, setup.baseline_list_id, email, kind, now, Jsonb(details)),
            )
    return sent


def profile_of(setup: Setup, n: int) -> dict[str, str]:
    """The stored (canonical) profile values api_post.lua sends for ``n``."""
    values = {
        "Text": f"Name {n}",
        "Numeric": f"{Decimal(f'{n % 10000}.{n % 100:02d}').normalize():f}",
        "Date": f"19{n % 60 + 40:02d}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        "CheckBox": "on" if n % 2 == 0 else "off",
    }
    return {str(pk): values[data_type] for pk, data_type in setup.fields}


if __name__ == "__main__":
    main()
