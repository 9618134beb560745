"""Opens and clicks at burst rates: the open pixel and the tracked links of
sent emails under load, against the raw database.

    .venv/bin/python bench/tracking.py [--seconds 20] [--connections 16]
                                       [--contacts 20000] [--workers 2]

What it measures: ``GET /t/o/<token>/`` (the open pixel, answered 200 with a
GIF) and ``GET /t/c/<token>/`` (a tracked link, answered 302 to the link as
the contact received it), served by the production server, gunicorn with 2
workers, on a throwaway PostgreSQL cluster. ``wrk`` keeps ``--connections``
connections busy for ``--seconds`` (bench/tracking.lua), seven requests in
ten an open and three a click (on either of the message's two links).

The links are real: N contacts enter a published conversation whose Message
step sends an email with two tracked links (as bench/send.py does), and W
``run_conductor --once`` workers send them to a local SMTP server. The
request paths are ``emails.render.tracking_url`` of those Sent deliveries,
what the renderer put in each email (checked against one rendered email),
each delivery once, and one open and one click are checked to answer 200
and 302 before the clock starts.

What should be recorded (``emails.tracking.engagement``): every answered
open is one ``email_opened`` activity and every answered click one
``email_clicked``; repeated opens are not merged, so each request names a
delivery no other request names (until wrk runs out of deliveries: then the
script warns and each (delivery, kind) may be recorded once per request
sent for it). Afterwards, from the activities of the requested deliveries:

- ``lost``: answered opens (clicks) beyond the opens (clicks) recorded. Must be 0.
- ``errors``: answers other than 200 and 302, socket errors (connect,
  read, write, timeout), and ``stray`` activities: more for a delivery and
  kind than requests sent for it (recorded twice, or never asked). Must be 0.
- ``in_flight``: recorded but unanswered: requests wrk had sent when it
  stopped, which the server finished (at most one per connection).

The baseline is the raw database doing the same writes in the same run: as
many threads as connections, each with its own psycopg connection, per
request one transaction of the ``INSERT INTO contacts_activity`` the
endpoint makes (the same row: contact, list, address, kind and details), for
as many seconds, with the same mix. The endpoint's other statements are
reads; the script prints the queries of one open and one click (``queries_per_open``,
``queries_per_click``) and warns when the endpoint writes anything else.

Last line, one JSON object: ``{"bench": "tracking", "requests", "seconds",
"requests_per_s", "p50_ms", "p99_ms", "opens", "clicks", "errors", "lost",
"in_flight", "baseline_requests_per_s", "ratio", ...}``; ``ratio`` =
baseline_requests_per_s / requests_per_s (as bench/api.py). It exits
non-zero when ``errors`` or ``lost`` is not 0.

The machine's cores are shared by the server, PostgreSQL and wrk; compare
figures from the same machine only.

Figures on 2026-12-07, 2-core machine, the defaults at 9210cab on a quiet
machine: 200 requests/s, p50 78 ms, p99 136 ms, ratio 11.6, 0 errors, 0 lost.
Earlier, ``--seconds 10`` at e8d3649's child-thread check: 108 requests/s,
p99 299 ms, ratio 24.3 (the cores half busy with other work before the
run); on a quieter machine 223 requests/s, p99 209 ms, ratio 11.7. An
open is six statements (the delivery; nextval and COPY of the activity; the
EXISTS of child threads; BEGIN, COMMIT), a click seven (its link). Before
that check (``conductor.engine.child_threads``), every open and click also
read its activity back (a sequential scan of the activity table at this
size), the delivery's step run and the enrollment, looking for a contact at
a Wait with child threads on a list that has none: 65 requests/s, p99
377 ms, ratio 47 with the cores as busy; in one process, alternating 300
requests each way, 13.6 to 20.3 ms a request against 6.6 to 17.0 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from _setup import ROOT, fresh_database, start_django
from _web import serve
from _wrk import WrkFigures, ensure_wrk, parse_wrk, warn_if_busy

LUA_SCRIPT = ROOT / "bench" / "tracking.lua"
WRK_THREADS = 2
USER_AGENT = "Mozilla/5.0 (bench/tracking.lua)"  # as tracking.lua sends it
OPENS_IN_TEN = 7
#: Deliveries kept out of the load: one open and one click checked over
#: HTTP, one open and one click whose queries are shown, and one of each
#: before those (a process's first request reads what it caches).
SPARE = 6
WORKER_BATCH = 1_000


@dataclass
class Sent:
    """A sent email's delivery: what its activities are written with."""

    delivery_id: int
    contact_id: int
    email: str
    details: dict[str, object]  # what names its source (the conversation)


@dataclass
class Line:
    """One request of the load: an open, or a click on ``link_id``."""

    sent: Sent
    kind: str  # "open" or "click"
    link_id: int | None = None

    @property
    def path(self) -> str:
        from django.conf import settings

        from emails.render import tracking_url

        url = tracking_url(self.kind, self.sent.delivery_id, self.link_id)
        return url.removeprefix(settings.PUBLIC_BASE_URL)


@dataclass
class Setup:
    message_id: int
    list_id: int
    links: dict[int, str]  # MessageLink id: url
    spare: list[Sent]
    lines: list[Line]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--contacts", type=int, default=20_000, help="emails sent, then tracked")
    parser.add_argument("--workers", type=int, default=2, help="run_conductor processes sending")
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""  # the ORM broker: nothing here runs a queue
    ensure_wrk()
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/tracking.py measures PostgreSQL; DATABASE_URL is not.")
        figures = run(url, args)
        print(json.dumps(figures))
    if figures["errors"] or figures["lost"]:
        raise SystemExit(f"errors: {figures['errors']}, lost: {figures['lost']}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    setup = send_emails(url, args)
    queries = show_queries(setup)
    warn_if_busy()
    with tempfile.TemporaryDirectory() as directory:
        paths = Path(directory) / "paths.txt"
        paths.write_text("".join(f"{line.path}\n" for line in setup.lines))
        log_path = Path(directory) / "gunicorn.log"
        with serve(url, log_path) as base_url:
            check_links_answer(base_url, setup)
            figures, counters = run_wrk(base_url, paths, args)
        # The server has stopped gracefully: every request it accepted is finished.
    log(figures.output)
    checks = check_recorded(setup, counters, figures)
    baseline = run_baseline(url, setup, seconds=args.seconds, threads=args.connections)
    requests_per_s = figures.requests / figures.seconds
    log(f"tracking: {requests_per_s:.0f} requests/s, baseline: {baseline:.0f} requests/s")
    return {
        "bench": "tracking",
        "requests": figures.requests,
        "seconds": round(figures.seconds, 2),
        "requests_per_s": round(requests_per_s),
        "p50_ms": round(figures.p50_ms, 1),
        "p99_ms": round(figures.p99_ms, 1),
        **checks,
        "connections": args.connections,
        "deliveries": len(setup.lines),
        **queries,
        "baseline_requests_per_s": round(baseline),
        "ratio": round(baseline / requests_per_s, 2),
    }


# --- Set-up: real emails, sent ------------------------------------------------


def send_emails(url: str, args: argparse.Namespace) -> Setup:
    """``args.contacts`` (plus SPARE) emails with two tracked links sent
    through a published conversation by ``run_conductor`` workers, as
    bench/send.py sends them; the load's lines, 7 opens in 10."""
    from _conductor import (
        analyze,
        create_contacts,
        enter_contacts,
        make_list,
        run_workers,
        worker_env,
    )
    from send import Inbox, publish_message_flow, smtp_server

    from emails.models import Delivery, DeliveryStatus, MessageLink

    bench = make_list("bench tracking")
    flow = publish_message_flow(bench)
    contacts = create_contacts(bench, "track", args.contacts + SPARE)
    enter_contacts(bench, flow, contacts)
    analyze()
    started = time.perf_counter()
    with smtp_server(Inbox()) as email_url:
        run_workers(worker_env(url, email_url), args.workers, WORKER_BATCH)
    analyze()  # the sends' activities and deliveries, as autovacuum would
    deliveries = Delivery.objects.filter(contact__list=bench.email_list).order_by("pk")
    sent = [
        Sent(pk, contact_id, email, details)
        for pk, contact_id, email, details, status in deliveries.values_list(
            "pk", "contact_id", "contact__email", "details", "status"
        )
        if status == DeliveryStatus.SENT
    ]
    if len(sent) != len(contacts):
        raise SystemExit(f"{len(sent)} of {len(contacts)} emails were sent")
    log(f"sent {len(sent)} emails in {time.perf_counter() - started:.1f} s")
    message_id = flow.steps[0].settings["message"]
    links = dict(
        MessageLink.objects.filter(message_id=message_id).order_by("pk").values_list("pk", "url")
    )
    if len(links) != 2:
        raise SystemExit(f"the message has {len(links)} tracked links, not 2")
    link_ids = list(links)
    lines = [
        Line(one, "open") if n % 10 < OPENS_IN_TEN else Line(one, "click", link_ids[n % 2])
        for n, one in enumerate(sent[SPARE:])
    ]
    setup = Setup(message_id, bench.email_list.pk, links, sent[:SPARE], lines)
    check_paths_are_the_emails(setup)
    return setup


def check_paths_are_the_emails(setup: Setup) -> None:
    """The pixel and link URLs of the first email, rendered as it was sent,
    are the lines' URLs for its delivery."""
    from django.conf import settings

    from emails.models import Delivery
    from emails.render import render

    first = setup.spare[0]
    delivery = Delivery.objects.select_related("message", "contact__list").get(pk=first.delivery_id)
    html = render(delivery).html.replace("&amp;", "&")
    lines = [Line(first, "open")] + [Line(first, "click", pk) for pk in setup.links]
    for line in lines:
        if settings.PUBLIC_BASE_URL + line.path not in html:
            raise SystemExit(f"{line.path} is not in the email of delivery {first.delivery_id}")


# --- The endpoint's queries ---------------------------------------------------


def show_queries(setup: Setup) -> dict[str, int]:
    """One open and one click through Django's test client (the whole
    middleware stack, after one of each), their queries printed; warns when
    the endpoint writes more than the baseline's one activity."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from contacts.models import Activity

    client = Client(HTTP_HOST="127.0.0.1", HTTP_USER_AGENT=USER_AGENT)
    counts: dict[str, int] = {}
    link_id = next(iter(setup.links))
    with override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        client.get(Line(setup.spare[4], "open").path)
        client.get(Line(setup.spare[5], "click", link_id).path)
    for name, line, status in (
        ("open", Line(setup.spare[2], "open"), 200),
        ("click", Line(setup.spare[3], "click", link_id), 302),
    ):
        before = Activity.objects.count()
        with (
            override_settings(ALLOWED_HOSTS=["127.0.0.1"]),
            CaptureQueriesContext(connection) as captured,
        ):
            answer = client.get(line.path)
        if answer.status_code != status:
            raise SystemExit(f"{line.path} answered {answer.status_code}, not {status}")
        statements = [query["sql"] for query in captured.captured_queries]
        # The activity itself is loaded with COPY on the driver's own cursor
        # (core.bulk.create_rows), which Django does not log: one statement more.
        log(f"{name}: {len(statements)} queries logged by Django, and the activity's COPY")
        for sql in statements:
            log(f"  {sql[:300]}")
        writes = [s for s in statements if s.split(None, 1)[0].upper() not in READS]
        added = Activity.objects.count() - before
        if writes or added != 1:
            log(f"warning: the {name} writes more than the baseline's one activity: {writes}")
        counts[f"queries_per_{name}"] = len(statements) + 1
    return counts


# Statement kinds that write nothing (nextval hands out the activity's id).
READS = {"SELECT", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"}


# --- Load ---------------------------------------------------------------------


def check_links_answer(base_url: str, setup: Setup) -> None:
    """One open answers 200 and one click 302, before the clock starts."""
    address = urlsplit(base_url)
    link_id = next(iter(setup.links))
    checks = [(Line(setup.spare[0], "open"), 200), (Line(setup.spare[1], "click", link_id), 302)]
    for line, status in checks:
        conn = http.client.HTTPConnection(address.netloc, timeout=30)
        conn.request("GET", line.path, headers={"User-Agent": USER_AGENT})
        answer = conn.getresponse()
        answer.read()
        conn.close()
        if answer.status != status:
            raise SystemExit(f"{line.path} answered {answer.status}, not {status}")


def run_wrk(base_url: str, paths: Path, args: argparse.Namespace) -> tuple[WrkFigures, dict]:
    env = {**os.environ, "BENCH_URLS": str(paths), "BENCH_THREADS": str(WRK_THREADS)}
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{args.connections}", f"-d{args.seconds}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(LUA_SCRIPT), base_url]
    log(f"wrk: {args.seconds} s, {args.connections} connections…")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    counts = [line for line in done.stdout.splitlines() if line.startswith("tracking-counts ")]
    if done.returncode != 0 or done.stderr.strip() or len(counts) != 1:
        # A Lua error is printed on stderr while wrk itself goes on.
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return parse_wrk(done.stdout), json.loads(counts[0].removeprefix("tracking-counts "))


# --- Checks -------------------------------------------------------------------

KIND_OF = {"open": "email_opened", "click": "email_clicked"}


def requested(setup: Setup, counters: dict) -> Counter[tuple[int, str]]:
    """How many requests were sent for each (delivery, activity kind): wrk
    thread t went round its lines t, t+T, t+2T, ... in order."""
    sent: Counter[tuple[int, str]] = Counter()
    for thread in counters["threads"]:
        own = setup.lines[thread["id"] :: WRK_THREADS]
        if len(own) != thread["lines"]:
            raise SystemExit(f"wrk thread {thread['id']} read {thread['lines']} lines")
        if thread["sent"] > len(own):
            log(
                f"warning: wrk thread {thread['id']} sent {thread['sent']} requests for "
                f"{len(own)} deliveries: some were requested twice (raise --contacts)"
            )
        for n in range(thread["sent"]):
            line = own[n % len(own)]
            sent[line.sent.delivery_id, KIND_OF[line.kind]] += 1
    return sent


def check_recorded(setup: Setup, counters: dict, figures: WrkFigures) -> dict[str, int]:
    """Answers counted by status against the activities recorded for the
    requested deliveries (see the module's docstring)."""
    from contacts.models import Activity

    asked = requested(setup, counters)
    recorded = Counter(
        Activity.objects.filter(list_id=setup.list_id, kind__in=KIND_OF.values()).values_list(
            "details__delivery_id", "kind"
        )
    )
    spare = {(s.delivery_id, kind) for s in setup.spare for kind in KIND_OF.values()}
    for key in spare:
        recorded.pop(key, None)  # the checks' own requests
    stray = sum(max(0, count - asked[key]) for key, count in recorded.items())
    threads = counters["threads"]
    answered = {
        "email_opened": sum(t["opened"] for t in threads),
        "email_clicked": sum(t["clicked"] for t in threads),
    }
    stored: Counter[str] = Counter()
    for (_, kind), count in recorded.items():
        stored[kind] += count
    lost = sum(max(0, answered[kind] - stored[kind]) for kind in answered)
    bad = sum(t["bad"] for t in threads)
    socket_errors = {k: v for k, v in counters["socket_errors"].items() if k != "status"}
    in_flight = sum(stored.values()) - sum(answered.values())
    log(
        f"sent {sum(asked.values())} requests; answered {figures.requests} (wrk): "
        f"{answered['email_opened']} opens (200), {answered['email_clicked']} clicks (302), "
        f"{bad} other; recorded {stored['email_opened']} opens and "
        f"{stored['email_clicked']} clicks ({in_flight} unanswered, in flight at the end); "
        f"lost {lost}; stray {stray}; socket errors {socket_errors}"
    )
    if answered["email_opened"] + answered["email_clicked"] + bad != figures.requests:
        log("warning: the script's answer counts do not add up to wrk's request count")
    return {
        "opens": answered["email_opened"],
        "clicks": answered["email_clicked"],
        "errors": bad + sum(socket_errors.values()) + stray,
        "lost": lost,
        "in_flight": in_flight,
    }


# --- Baseline -----------------------------------------------------------------

ACTIVITY_INSERT = """
    INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)
    VALUES (%s, %s, %s, %s, %s, %s)
"""


def run_baseline(url: str, setup: Setup, *, seconds: float, threads: int) -> float:
    """Requests per second of ``threads`` raw psycopg clients writing the
    activity the endpoint writes, one transaction per request, for ``seconds``."""
    import psycopg

    connections = [psycopg.connect(url) for _ in range(threads)]
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def client(number: int) -> None:
        start.wait()
        deadline = time.monotonic() + seconds
        counts[number] = write_activities(
            connections[number], setup, setup.lines[number::threads], deadline
        )

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
    log(f"baseline: {sum(counts)} requests in {elapsed:.2f} s")
    return sum(counts) / elapsed


def write_activities(conn, setup: Setup, lines: list[Line], deadline: float) -> int:
    """The endpoint's activity for each of ``lines`` in turn (round-robin),
    one transaction each, until ``deadline``; returns the number written."""
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    written = 0
    while time.monotonic() < deadline:
        line = lines[written % len(lines)]
        one = line.sent
        details: dict[str, object] = {
            "message_id": setup.message_id,
            "delivery_id": one.delivery_id,
            **one.details,
        }
        if line.kind == "click":
            details["link_kind"] = "link"
        details.update(ip="127.0.0.1", user_agent=USER_AGENT)
        if line.link_id is not None:
            details.update(link_id=line.link_id, link_url=setup.links[line.link_id])
        row = (one.contact_id, setup.list_id, one.email, KIND_OF[line.kind], timezone.now())
        with conn.transaction():
            conn.execute(ACTIVITY_INSERT, (*row, Jsonb(details)))
        written += 1
    return written


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
