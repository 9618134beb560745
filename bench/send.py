"""Sending: messages per second end to end, and the time from an external
event fired through the API to its email arriving.

    .venv/bin/python bench/send.py [--contacts 20000] [--workers 2] [--events 40]

What it measures, on a throwaway PostgreSQL cluster (or DATABASE_URL when it
is PostgreSQL), with a real SMTP server (aiosmtpd, in this process, counting
each recipient and when its message arrived):

1. ``seconds``: N subscribed contacts entered into a published conversation
   whose first step is a Message (an HTML body with two tracked links and
   a text body, merge fields in the subject and body), then Terminate. W
   ``manage.py run_conductor --once`` processes are started together; the
   time runs until the last has exited (their start-up, about a second
   each, included). By then every email has been rendered, sent over SMTP
   and marked Sent. Checks: every address received exactly one message
   (``duplicates`` counts addresses that got more than one, ``missing``
   those that got none), every delivery is Sent.
2. ``event_to_inbox_p95``: gunicorn (2 workers) serves the API and a
   ``qcluster`` (2 workers, django-q2's ORM broker, polled every 0.5 s)
   does the background work, as in production. ``--events`` times, one at a
   time with a random pause of 0.25 to 1 s between them, the contact post
   ``POST /email/v1/List/{id}/Contact?eventIds={event}`` fires the trigger
   event for another subscribed contact; the figure is from sending that
   request to the message arriving at the SMTP server.

3. ``baseline_seconds``: the raw SMTP exchange in the same run: W processes
   posting N copies of one of the rendered emails to the same server with
   plain ``smtplib`` (no database, no rendering). ``ratio`` = seconds /
   baseline_seconds. The server, aiosmtpd, is pure Python: it spends about
   half a millisecond of CPU on each email, a core's worth at some 1,900
   emails/s, and shares this machine's two cores with everything else.

Last line, one JSON object: ``{"bench": "send", "messages": N, "seconds": S,
"messages_per_s": R, "baseline_seconds": B, "ratio": S/B, "duplicates": 0,
"event_to_inbox_p95": P, ...}``.
Targets (issue): messages_per_s ≥ 1,000 and event_to_inbox_p95 ≤ 2 s.

Figures on 2026-12-07, old and new code alternating in one session: with
the emails marked Handed a group (one per connection) at a time, each
connection holding the next while it sends (a crash leaves at most two per
connection uncertain), 20,000 in 22.7 to 25.0 s, ratio 1.89 to 1.99 (raw
SMTP 11.7 to 12.6 s), shares 0.5/0.5; the code before the Handed state
(fdb10e3, a crash could fail a whole claim) 19.8 and 20.4 s, ratio 1.71 and
1.75. Marking each email Handed on its own (4795273) gave 28.5 to 30.5 s,
ratio 1.98 to 2.30: a statement per email, each about 0.9 ms of the
worker's time on this busy machine.

Figures on this 2-core machine at commit dd8d67b (four runs): 20,000
messages in 19.1 to 19.7 s, 1,015 to 1,047 messages/s; the raw SMTP exchange
10.7 to 11.0 s, ratio 1.77 to 1.82; event to inbox p95 0.55 s. The margin is
thin: the sending code of ddcec2a gave 1,011 to 1,046 one day and 976 to 999
the next, with the raw SMTP exchange 4 % slower. Per email, the worker spends
some 0.8 ms of CPU (a third stepping, two thirds rendering and sending over
three connections), PostgreSQL 0.25 ms and the SMTP server 0.5 ms. Earlier:
692/s over one connection per worker (1d495f6), 268 to 372/s with one email
per query round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from _setup import ROOT, fresh_database, start_django
from _web import get_token, serve

HTML = """<html><body><p>Hello {{ profile.code }},</p>
<p>Our <a href="https://shop.example/sale">sale</a> starts today:
<a href="https://shop.example/p?c={{ profile.code }}">your picks</a>.</p></body></html>"""
TEXT = "Hello {{ profile.code }}, our sale starts today: https://shop.example/sale"
WORKER_BATCH = 1_000
LATENCY_TIMEOUT = 30.0


class Inbox:
    """An aiosmtpd handler that only counts: who got a message, and when."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        now = time.time()
        with self.lock:
            for address in envelope.rcpt_tos:
                self.arrivals[address.lower()].append(now)
        return "250 Message accepted for delivery"

    def first_arrival(self, address: str) -> float | None:
        with self.lock:
            times = self.arrivals.get(address)
            return times[0] if times else None


@contextlib.contextmanager
def smtp_server(inbox: Inbox) -> Iterator[str]:
    from aiosmtpd.controller import Controller

    from tests.smtp import HOST, free_port

    controller = Controller(inbox, hostname=HOST, port=free_port())
    controller.start()
    try:
        yield f"smtp://{HOST}:{controller.port}"
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/send.py measures PostgreSQL; DATABASE_URL is not.")
        figures, problems = measure(url, args)
        print(json.dumps(figures))
    if problems:
        raise SystemExit("checks failed: " + "; ".join(problems))


def measure(url: str, args: argparse.Namespace) -> tuple[dict[str, object], list[str]]:
    from _conductor import (
        analyze,
        create_contacts,
        enter_contacts,
        load_average,
        make_list,
        run_workers,
    )

    load_before = load_average()
    bench = make_list("bench send")
    flow = publish_message_flow(bench)
    inbox = Inbox()
    with smtp_server(inbox) as email_url:
        from _conductor import worker_env

        env = worker_env(url, email_url)
        contacts = create_contacts(bench, "send", args.contacts)
        enter_contacts(bench, flow, contacts)
        analyze()
        done = run_workers(env, args.workers, WORKER_BATCH)
        seconds = done.seconds
        duplicates, missing, unsent = check(inbox, "send", args.contacts)
        log(f"sent {args.contacts} in {seconds:.2f} s; load {load_average():.2f}")
        baseline_seconds = smtp_baseline(email_url, args.contacts, args.workers)
        log(f"raw SMTP baseline: {args.contacts} in {baseline_seconds:.2f} s")
        latencies = event_to_inbox(url, email_url, bench, inbox, args.events)
    problems = [
        f"{name} = {value}"
        for name, value in (("duplicates", duplicates), ("missing", missing), ("unsent", unsent))
        if value
    ]
    figures = {
        "bench": "send",
        "messages": args.contacts,
        "workers": args.workers,
        "seconds": round(seconds, 2),
        "messages_per_s": round(args.contacts / seconds),
        "baseline_seconds": round(baseline_seconds, 2),
        "ratio": round(seconds / baseline_seconds, 2),
        "duplicates": duplicates,
        "missing": missing,
        # Each worker's part of the emails sent and of the step visits.
        "worker_email_shares": done.shares(done.emails),
        "worker_step_shares": done.shares(done.steps),
        "event_to_inbox_p50": round(percentile(latencies, 0.5), 3),
        "event_to_inbox_p95": round(percentile(latencies, 0.95), 3),
        "event_to_inbox_max": round(max(latencies), 3),
        "load_before": load_before,
    }
    return figures, problems


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def publish_message_flow(bench):
    from _conductor import publish_flow

    from conductor.models import StepKind
    from emails.models import Message

    message = Message.objects.create(
        list=bench.email_list,
        name="Bench sale",
        subject="Sale for {{ profile.code }}",
        html_body=HTML,
        text_body=TEXT,
        from_email="shop@example.com",
    )
    return publish_flow(
        bench, [(StepKind.MESSAGE, {"message": message.pk}), (StepKind.TERMINATE, {})]
    )


BASELINE_CLIENT = """
import smtplib, sys
host, port, path, start, stop = sys.argv[1:]
raw = open(path, "rb").read()
with smtplib.SMTP(host, int(port)) as smtp:
    for n in range(int(start), int(stop)):
        smtp.sendmail("shop@example.com", [f"baseline{n:07d}@example.com"], raw)
"""


def smtp_baseline(email_url: str, count: int, workers: int) -> float:
    """``workers`` processes posting ``count`` copies of one of the sent
    emails, already rendered, to the same server with plain smtplib: what
    the SMTP exchange itself costs, here, with this server."""
    from emails.models import Delivery
    from emails.render import build_email

    delivery = Delivery.objects.select_related("message", "contact__list").first()
    assert delivery is not None, "the run sent no email"
    raw = build_email(delivery).wire_bytes()  # the bytes the worker's SMTP path sends
    host, port = email_url.removeprefix("smtp://").split(":")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "email.eml"
        path.write_bytes(raw)
        shares = [(count * n // workers, count * (n + 1) // workers) for n in range(workers)]
        started = time.perf_counter()
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", BASELINE_CLIENT, host, port, str(path), str(a), str(b)]
            )
            for a, b in shares
        ]
        if any(client.wait() != 0 for client in clients):
            raise SystemExit("the baseline's SMTP client failed")
        return time.perf_counter() - started


def check(inbox: Inbox, prefix: str, count: int) -> tuple[int, int, int]:
    from emails.models import Delivery, DeliveryStatus

    addresses = [f"{prefix}{n:07d}@example.com" for n in range(count)]
    with inbox.lock:
        got = {a: len(inbox.arrivals.get(a, [])) for a in addresses}
    duplicates = sum(1 for n in got.values() if n > 1)
    missing = sum(1 for n in got.values() if n == 0)
    unsent = Delivery.objects.exclude(status=DeliveryStatus.SENT).count()
    return duplicates, missing, unsent


def event_to_inbox(url: str, email_url: str, bench, inbox: Inbox, events: int) -> list[float]:
    from _conductor import create_contacts
    from trigger_latency import cluster

    from api.services import create_api_client
    from contacts.models import Contact

    client, secret = create_api_client(name="bench send", scopes=["Contact"])
    ids = create_contacts(bench, "event", events)
    contacts = Contact.objects.filter(pk__in=ids).order_by("pk")
    addresses = list(contacts.values_list("email", flat=True))
    latencies: list[float] = []
    pauses = random.Random(1)
    with tempfile.TemporaryDirectory() as directory:
        log_path = Path(directory) / "gunicorn.log"
        with serve(url, log_path) as base_url, cluster(url, email_url, None):
            token = get_token(base_url, client.application.client_id, secret)
            endpoint = (
                f"{base_url}/email/v1/List/{bench.email_list.pk}/Contact"
                f"?eventIds={bench.entered.pk}"
            )
            for address in addresses:
                time.sleep(pauses.uniform(0.25, 1.0))
                latencies.append(fire_and_wait(endpoint, token, address, inbox))
    return latencies


def fire_and_wait(endpoint: str, token: str, address: str, inbox: Inbox) -> float:
    body = json.dumps({"emailAddress": address, "subscriptionState": "Subscribed"}).encode()
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.time()
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
    while time.time() - started < LATENCY_TIMEOUT:
        arrived = inbox.first_arrival(address)
        if arrived is not None:
            return arrived - started
        time.sleep(0.005)
    raise SystemExit(f"no email for {address} within {LATENCY_TIMEOUT} s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
