"""A retailer's day, end to end: an import, a welcome email to everyone,
opens and clicks, and every activity at Segment.

    .venv/bin/python bench/day.py [--contacts 200000] [--redis]

On a throwaway PostgreSQL cluster (or DATABASE_URL when it is PostgreSQL),
the platform as production runs it: gunicorn (2 sync workers) serving the API
and the tracking pages, one ``manage.py qcluster`` machine (``Q_WORKERS``
2) on the ORM broker, or with ``--redis`` on a throwaway ``redis-server``;
a real SMTP server (aiosmtpd, in this process, counting who got what) and a
local Segment capture server (``bench/segment.py``'s, its own process,
noting every messageId). Nothing but the platform moves the work along.

1. ``import_s``: a published welcome conversation (trigger: subscribed to
   the list; a Message step, then Terminate) waits; the list syncs to
   Segment. ``POST /email/v1/List/{id}/ListImport`` posts a file of N new
   addresses, as a Listrak client does; the figure runs to the import's
   "completed".
2. ``emails_s``: from the import's start to the N-th email's arrival at the
   SMTP server (the conversation entered them as the import went).
3. ``engagement_s``: 30 % of the emails are opened (the open pixel) and a
   third of those clicked (a tracked link) through the served pages, by 16
   client threads, opens first; every answer must be a 200 or a redirect.
4. ``end_to_end_s``: from the import's start to the moment the Segment
   server holds every message the day wrote: an identify per new
   subscriber and a track per email sent, opened and clicked.

Sampled every half second: the peak backlog (deliveries waiting, contacts
due in the conversation, Segment outbox, queued tasks). Checks, all must be
0: ``duplicates`` (an address that got two emails, a Segment messageId
accepted twice) and ``lost`` (an address without its email, a delivery not
Sent, an answered open or click without its activity, a message missing at
Segment). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _setup import ROOT, fresh_database, start_django

OPENED = 0.30
CLICKED_OF_OPENED = 1 / 3  # 10 % of all emails
CLIENTS = 16
SAMPLE_EVERY = 0.5
STAGE_TIMEOUT = 1800.0
WELCOME_HTML = """<html><body>
<p>Welcome to the shop{% if profile.code %}, {{ profile.code }}{% endif %}!</p>
<p>See <a href="https://shop.example/new">what is new</a> or
<a href="https://shop.example/sale">the sale</a>.</p></body></html>"""
WELCOME_TEXT = "Welcome to the shop! What is new: https://shop.example/new"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--redis", action="store_true", help="django-q2 on Redis, not the ORM")
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""
    from segment import Server

    segment = Server()
    try:
        with fresh_database("postgres") as url:
            start_django(url)
            from django.db import connection

            if connection.vendor != "postgresql":
                raise SystemExit("bench/day.py measures PostgreSQL; DATABASE_URL is not.")
            figures, problems = run(url, segment, args)
            print(json.dumps(figures))
    finally:
        segment.stop()
    if problems:
        raise SystemExit("checks failed: " + "; ".join(problems))


def run(url: str, segment: Any, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    from _conductor import load_average, make_list, worker_env
    from _web import get_token, serve
    from django.conf import settings
    from send import Inbox, smtp_server

    from api.services import create_api_client

    load_before = load_average()
    settings.SEGMENT_ALLOWED_HOSTS = [segment.endpoint]
    bench = make_list("Shop")
    welcome_conversation(bench.email_list)
    connect_segment(bench.email_list, segment.endpoint)
    client, secret = create_api_client(name="bench day", scopes=["List", "Contact", "Message"])
    inbox = Inbox()
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis_url = stack.enter_context(redis_server(directory)) if args.redis else ""
        email_url = stack.enter_context(smtp_server(inbox))
        shared = {
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(directory / "media"),  # the upload, read by the worker
            "SEGMENT_ALLOWED_HOSTS": segment.endpoint,
            "EMAIL_URL": email_url,
        }
        base_url = stack.enter_context(serve(url, directory / "gunicorn.log", **shared))
        env = {**worker_env(url, email_url), **shared, "Q_WORKERS": "2"}
        env.pop("Q_CLUSTER_NAME", None)
        stack.enter_context(qcluster(env, directory / "qcluster.log"))
        token = get_token(base_url, client.application.client_id, secret)
        backlog = stack.enter_context(sampling(redis_url))

        started = time.perf_counter()
        list_import = post_import(base_url, token, bench.email_list.pk, args.contacts)
        import_s = wait_for(lambda: import_finished(list_import), "the import", since=started)
        log(f"import of {args.contacts} done after {import_s:.1f} s")
        emails_s = wait_for(lambda: received(inbox) >= args.contacts, "every email", since=started)
        log(f"{args.contacts} emails received after {emails_s:.1f} s")
        wait_for(sent_recorded, "every 'sent' activity", since=started)

        engaged = engage(base_url, args.contacts)
        engagement_s = engaged.pop("seconds")
        log(f"engagement: {engaged} in {engagement_s:.1f} s")
        expected = expected_at_segment()
        end_to_end_s = wait_for(
            lambda: segment.accepted() >= sum(expected.values()),
            "every message at Segment",
            since=started,
        )
        log(f"everything at Segment after {end_to_end_s:.1f} s")
        time.sleep(2)  # a late copy would show in the stats
        peaks = backlog.peaks()
    stats = segment.stats()
    kinds = Counter(stats.pop("kinds"))
    duplicates, lost = checks(inbox, args.contacts, engaged, expected, kinds, stats)
    figures = {
        "bench": "day",
        "contacts": args.contacts,
        "broker": "redis" if args.redis else "orm",
        "import_s": round(import_s, 1),
        "emails_s": round(emails_s, 1),
        "emails_per_s": round(args.contacts / emails_s),
        "engagement_s": round(engagement_s, 1),
        "engagement_requests_per_s": round((engaged["opens"] + engaged["clicks"]) / engagement_s),
        "end_to_end_s": round(end_to_end_s, 1),
        "segment_messages": sum(expected.values()),
        "segment_expected": expected,
        "segment_received": dict(kinds),
        "activities": activity_kinds(),
        "peak_backlog": peaks,
        "duplicates": duplicates,
        "lost": lost,
        **engaged,
        "load_before": load_before,
    }
    problems = [f"{name}: {value}" for name, value in {**duplicates, **lost}.items() if value]
    return figures, problems


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Setting up the day ---------------------------------------------------------------


def welcome_conversation(email_list: Any) -> None:
    """Published: every new subscriber gets the welcome email, then leaves."""
    from conductor.models import Step, StepKind, Trigger, TriggerKind
    from conductor.versions import create_conversation, publish, working_version
    from emails.models import Message

    message = Message.objects.create(
        list=email_list,
        name="Welcome",
        subject="Welcome to the shop",
        html_body=WELCOME_HTML,
        text_body=WELCOME_TEXT,
        from_email="shop@example.com",
    )
    conversation = create_conversation(email_list=email_list, name="Welcome")
    Trigger.objects.create(conversation=conversation, kind=TriggerKind.SUBSCRIBE)
    thread = working_version(conversation).threads.get(is_main=True)
    Step.objects.create(
        thread=thread, kind=StepKind.MESSAGE, position=0, settings={"message": message.pk}
    )
    Step.objects.create(thread=thread, kind=StepKind.TERMINATE, position=1, settings={})
    publish(conversation)


def connect_segment(email_list: Any, endpoint: str) -> None:
    """The list synced to Segment, its backfill (every contact's identify) done
    before the day starts: on the empty list, nothing to send."""
    from integrations.segment.backfill import backfill_list_sync
    from integrations.segment.services import create_integration, sync_list

    integration = create_integration(
        name="Segment", write_key="bench-day-write-key-0123456789", endpoint=endpoint
    )
    sync = sync_list(integration=integration, email_list=email_list, backfill=False)
    written, complete = backfill_list_sync(sync_id=sync.pk)  # waits out the list cache
    if written or not complete:
        raise SystemExit(f"the empty list's backfill wrote {written} messages, {complete=}")


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    from tests.redis_server import RedisServer

    server = RedisServer(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@contextlib.contextmanager
def qcluster(env: dict[str, str], log_path: Path) -> Iterator[None]:
    """One machine's ``manage.py qcluster``, its own process group; stopped
    with SIGTERM, killed if it will not stop."""
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield
    finally:
        # To the main process only (systemd's KillMode=mixed): it lets its workers
        # finish their task and exits; sent to the whole group, they would die mid-task.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log("qcluster did not stop within 60 s of SIGTERM: killed")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # any worker left behind
        if process.returncode not in (0, -signal.SIGTERM):
            log(log_path.read_text(errors="replace")[-3000:])
            raise SystemExit(f"qcluster exited with {process.returncode}")


def post_import(base_url: str, token: str, list_id: int, count: int) -> int:
    """N new addresses in one file, posted as a Listrak client posts it."""
    rows = "".join(f"day{n:07d}@example.com\n" for n in range(count))
    body = json.dumps(
        {
            "fileDelimiter": ",",
            "fileMappings": [{"fileColumn": 0, "fileColumnType": "Email"}],
            "fileName": "customers.csv",
            "fileStream": base64.b64encode(f"Email\n{rows}".encode()).decode(),
            "hasColumnNames": True,
            "importType": "AddSubscribers",
            "segmentationImportType": "Update",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/email/v1/List/{list_id}/ListImport",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as answer:
        return int(json.load(answer)["resourceId"])


# --- Watching it ----------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], what: str, *, since: float) -> float:
    """Seconds from ``since`` (a ``perf_counter``) until ``condition`` holds."""
    deadline = time.perf_counter() + STAGE_TIMEOUT
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"waited {STAGE_TIMEOUT:.0f} s for {what}")
        time.sleep(0.1)
    return time.perf_counter() - since


def import_finished(import_id: int) -> bool:
    from contacts.imports.models import ImportStatus, ListImport

    list_import = ListImport.objects.get(pk=import_id)
    if list_import.status == ImportStatus.PROCESSING_FAILED:
        raise SystemExit(f"the import failed: {list_import.__dict__}")
    return list_import.status == ImportStatus.PROCESSING_COMPLETED


def received(inbox: Any) -> int:
    with inbox.lock:
        return len(inbox.arrivals)


def sent_recorded() -> bool:
    from emails.models import Delivery, DeliveryStatus

    return not (
        Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()
        or Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(claim_token="").exists()
    )


class Backlog:
    """The largest backlog of each kind seen by the sampling thread."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.most: Counter[str] = Counter()
        self.stop = threading.Event()

    def sample(self) -> None:
        from django.db import connection
        from django.utils import timezone

        from conductor.models import Enrollment, EnrollmentState
        from emails.models import Delivery, DeliveryStatus
        from integrations.models import SegmentMessage

        redis = None
        if self.redis_url:
            import redis as redis_client

            redis = redis_client.Redis.from_url(self.redis_url)
        try:
            while not self.stop.wait(SAMPLE_EVERY):
                now = {
                    "deliveries_waiting": Delivery.objects.filter(
                        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
                    ).count(),
                    "contacts_due": Enrollment.objects.filter(
                        state=EnrollmentState.ACTIVE, due_at__lte=timezone.now()
                    ).count(),
                    "segment_outbox": SegmentMessage.objects.count(),
                    "tasks_queued": queued_tasks(redis),
                }
                for name, value in now.items():
                    self.most[name] = max(self.most[name], value)
        finally:
            connection.close()

    def peaks(self) -> dict[str, int]:
        return dict(self.most)


def queued_tasks(redis: Any) -> int:
    from django_q.conf import Conf
    from django_q.models import OrmQ

    if redis is None:
        return OrmQ.objects.count()
    return int(redis.llen(f"django_q:{Conf.CLUSTER_NAME}:q"))  # django-q2's Redis queue


@contextlib.contextmanager
def sampling(redis_url: str) -> Iterator[Backlog]:
    backlog = Backlog(redis_url)
    thread = threading.Thread(target=backlog.sample, daemon=True)
    thread.start()
    try:
        yield backlog
    finally:
        backlog.stop.set()
        thread.join()


# --- Opens and clicks -----------------------------------------------------------------


def engage(base_url: str, count: int) -> dict[str, Any]:
    """Open 30 % of the emails and click a third of those, through the served
    pages; returns how many of each were answered, the errors, and the seconds."""
    from django.conf import settings

    from emails.models import Delivery, MessageLink
    from emails.render import tracking_url

    ids = sorted(Delivery.objects.values_list("pk", flat=True))
    chosen = random.Random(7)
    opened = chosen.sample(ids, round(len(ids) * OPENED))
    clicked = opened[: round(len(opened) * CLICKED_OF_OPENED)]
    link = MessageLink.objects.order_by("pk").values_list("pk", flat=True).first()
    public = settings.PUBLIC_BASE_URL

    def path(kind: str, delivery_id: int, link_id: int | None = None) -> str:
        return tracking_url(kind, delivery_id, link_id).removeprefix(public)

    started = time.perf_counter()
    opens = hit(base_url, [path("open", d) for d in opened])
    clicks = hit(base_url, [path("click", d, link) for d in clicked])
    seconds = time.perf_counter() - started
    return {
        "opens": opens["answered"],
        "clicks": clicks["answered"],
        "engagement_errors": opens["errors"] + clicks["errors"],
        "seconds": seconds,
    }


def hit(base_url: str, paths: list[str]) -> dict[str, int]:
    """GET every path once with ``CLIENTS`` threads; answered (200 or a
    redirect, not followed) and errors."""
    host, port = urllib.parse.urlsplit(base_url).netloc.split(":")
    todo = iter(paths)
    lock = threading.Lock()
    counts = Counter[str]()

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                path = next(todo, None)
            if path is None:
                break
            try:
                connection.request("GET", path)
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == 200 or 300 <= answer.status < 400
                if answer.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            with lock:
                counts["answered" if ok else "errors"] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if counts["answered"] + counts["errors"] != len(paths):
        raise SystemExit(f"{len(paths)} requests, but {dict(counts)} accounted for")
    return {"answered": counts["answered"], "errors": counts["errors"]}


# --- Checks ---------------------------------------------------------------------------


def expected_at_segment() -> dict[str, int]:
    """What the day wrote for Segment: an identify per subscriber, a track per
    email sent, opened and clicked (each activity of the synced list)."""
    from contacts.models import Activity, ActivityKind, Contact

    kinds = Counter(
        Activity.objects.filter(
            kind__in=[
                ActivityKind.EMAIL_SENT,
                ActivityKind.EMAIL_OPENED,
                ActivityKind.EMAIL_CLICKED,
            ]
        ).values_list("kind", flat=True)
    )
    return {
        "identify": Contact.objects.count(),
        "Email Sent": kinds[ActivityKind.EMAIL_SENT],
        "Email Opened": kinds[ActivityKind.EMAIL_OPENED],
        "Email Link Clicked": kinds[ActivityKind.EMAIL_CLICKED],
    }


def activity_kinds() -> dict[str, int]:
    from contacts.models import Activity

    return dict(Counter(Activity.objects.values_list("kind", flat=True)))


def checks(
    inbox: Any,
    contacts: int,
    engaged: dict[str, int],
    expected: dict[str, int],
    kinds: Counter[str],
    stats: dict[str, int],
) -> tuple[dict[str, int], dict[str, int]]:
    from emails.models import Delivery, DeliveryStatus

    with inbox.lock:
        got = {address: len(times) for address, times in inbox.arrivals.items()}
    addresses = {f"day{n:07d}@example.com" for n in range(contacts)}
    duplicates = {
        "emails_twice": sum(1 for n in got.values() if n > 1),
        "segment_ids_accepted_twice": stats["accepted_twice"],
    }
    lost = {
        "emails_missing": len(addresses - set(got)),
        "deliveries_not_sent": Delivery.objects.exclude(status=DeliveryStatus.SENT).count(),
        "opens_unrecorded": engaged["opens"] - expected["Email Opened"],
        "clicks_unrecorded": engaged["clicks"] - expected["Email Link Clicked"],
        "segment_missing": sum(max(n - kinds[kind], 0) for kind, n in expected.items()),
        "segment_extra": sum(max(kinds[kind] - expected.get(kind, 0), 0) for kind in kinds),
        "engagement_errors": engaged["engagement_errors"],
    }
    return duplicates, lost


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
