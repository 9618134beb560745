"""Latency from an external event to its conversation's first step, through a
real worker.

    .venv/bin/python bench/trigger_latency.py [--events 200] [--poll SECONDS] [--pause SECONDS]

What it measures, on a throwaway PostgreSQL cluster: a published conversation
triggered by an external event, whose first step is a cheap Action (SetValue
Points=1) followed by Terminate. A real worker runs: ``manage.py qcluster``
with Q_WORKERS=2 and REDIS_URL empty, so the platform's database broker
(core/broker.py: django-q2's task table, whose pusher is woken by a NOTIFY
when a task is queued, or else looks again every ``Q_CLUSTER["poll"]``
seconds, 0.5 in config/settings.py). Once
it has run a first task, 4 warm-up events (not counted) and then ``--events``
events are fired one at a time, each through ``contacts.services.fire_event``
in its own transaction, for a different subscribed contact; after each the
script polls the database every 10 ms (timeout 10 s) until that contact's
first StepRun exists, then pauses a random 1/4 to 1 times ``--pause``
(default 1 s) before the next event.

Why the pause: ``run_due`` keeps claiming until nothing is due, so an event
fired right after the previous contact's step (``--pause 0``) is often taken
by the previous task, still running, without waiting for the broker at all:
that measures back-to-back traffic, not an event arriving at an idle
worker. With the pause the previous task has ended and each event lands at
a random point of the broker's poll cycle.

The chain measured: commit → ``transaction.on_commit(queue_run)`` puts a
``run_due`` task in the broker table and NOTIFYs → the cluster's pusher,
LISTENing, wakes and takes it → a worker claims the enrollment, enters the
first step and runs it.

How to read the last line (one JSON object), in seconds:

- ``p50``, ``p95``, ``max``: StepRun.ran_at - the event's Activity.occurred_at
  (both the database clock's ``timezone.now()`` of this machine); target: p95 ≤ 1 s.
- ``seen_p50``, ``seen_p95``: wall clock from the commit returning to this
  script seeing the row (adds the step's own commit and up to 10 ms of polling).
- ``enqueued_to_run_p50``: ran_at - the task's enqueue time (django-q2's
  ``Task.started`` is set when the task is queued); what the broker's poll
  and the hand-off to a worker add, plus the claim.
- ``poll``: the broker's poll interval used, now only its longest wait.
  ``--poll S`` starts the cluster with ``Conf.POLL`` set to S (settings
  unchanged). Without the NOTIFY (django-q2's own ORM broker, or behind
  PgBouncer in transaction mode) a poll of P seconds adds about P/2 on
  average and up to P.

Figures on this 2-core machine, quiet, 2026-12-07: before the NOTIFY (at
b472c19, the settings' poll of 0.5 s), four runs, p50 0.228 to 0.232 s, p95
0.509 to 0.519 s, max 0.535 to 0.553 s, enqueue → step p50 0.211 to 0.218 s:
the poll was about 80 % of the latency. With it, three runs, p50 0.038 to
0.039 s, p95 0.048, 0.060 and 0.048 s, max 0.070 to 0.078 s, enqueue → step
p50 0.021 to 0.022 s. What is left is the engine's own part (the claim,
entry, the first step and its commit) and the hand-off between the pusher
and a worker process.

The every-minute ``conductor`` schedule also runs in the cluster; it may now
and then advance a contact before its own task does.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _setup import ROOT, fresh_database, start_django

WARM_UP_EVENTS = 4
POLL_EVERY = 0.01
TIMEOUT = 10.0
SETTINGS_POLL = 0.5  # Q_CLUSTER["poll"] in config/settings.py
# ``manage.py qcluster`` with the broker's poll interval changed in memory
# (django-q2 reads Conf.POLL on every empty poll; the workers are forked).
QCLUSTER_WITH_POLL = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django_q.conf import Conf
Conf.POLL = float(sys.argv[1])
from django.core.management import call_command
call_command("qcluster")
"""


@dataclass
class Sample:
    contact_id: int
    occurred_at: datetime.datetime  # the event's activity
    ran_at: datetime.datetime | None  # the first StepRun's, None on timeout
    seen_seconds: float  # commit returned → row seen

    @property
    def seconds(self) -> float:
        assert self.ran_at is not None
        return (self.ran_at - self.occurred_at).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--poll", type=float, default=None, help="broker poll interval (s)")
    parser.add_argument("--pause", type=float, default=1.0, help="most seconds between events")
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""  # the ORM broker, here and in the cluster
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/trigger_latency.py measures PostgreSQL; DATABASE_URL is not.")
        figures = run(url, args.events, args.poll, args.pause)
        print(json.dumps(figures))
    if figures["timeouts"]:
        raise SystemExit(f"{figures['timeouts']} events saw no step run within {TIMEOUT} s")


def run(url: str, events: int, poll: float | None, pause: float) -> dict[str, object]:
    from _conductor import create_contacts, load_average, mail_server, make_list, publish_flow

    from conductor.models import StepKind
    from contacts.models import Contact

    load_before = load_average()
    bench = make_list("bench latency")
    points = bench.fields["Points"].pk
    publish_flow(
        bench,
        [
            (StepKind.ACTION, {"action": "SetValue", "field": points, "value": 1}),
            (StepKind.TERMINATE, {}),
        ],
    )
    ids = create_contacts(bench, "latency", WARM_UP_EVENTS + events)
    contacts = list(Contact.objects.filter(pk__in=ids).order_by("pk"))
    with mail_server() as email_url, cluster(url, email_url, poll):
        pauses = random.Random(1)
        samples = []
        for n, contact in enumerate(contacts):
            time.sleep(pauses.uniform(pause / 4, pause))
            sample = fire_and_wait(bench, contact)
            if n >= WARM_UP_EVENTS:
                samples.append(sample)
    figures = figures_of(samples, poll, load_before)
    figures["pause"] = pause
    return figures


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- The worker -----------------------------------------------------------------


@contextlib.contextmanager
def cluster(url: str, email_url: str, poll: float | None) -> Iterator[None]:
    """A running ``qcluster`` (2 workers, ORM broker) that has run one task."""
    from _conductor import worker_env

    if poll is None:
        command = [sys.executable, "manage.py", "qcluster"]
    else:
        command = [sys.executable, "-c", QCLUSTER_WITH_POLL, str(poll)]
    env = worker_env(url, email_url, Q_WORKERS="2", LOG_LEVEL="WARNING")
    with tempfile.TemporaryDirectory() as directory:
        log_path = Path(directory) / "qcluster.log"
        with open(log_path, "wb") as stream:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT
            )
        try:
            wait_until_up(process, log_path)
            yield
        finally:
            stop(process)
            output = log_path.read_text(errors="replace").strip()
            if output:
                log(f"qcluster log (last 3000 characters):\n{output[-3000:]}")


def wait_until_up(process: subprocess.Popen, log_path: Path) -> None:
    """Queue a trivial task and wait for its result: the cluster takes work."""
    from django_q.tasks import async_task, result

    started = time.perf_counter()
    task_id = async_task("math.sqrt", 4.0, task_name="bench-warm-up")
    while time.perf_counter() - started < 60:
        if process.poll() is not None:
            raise SystemExit(f"qcluster exited ({process.returncode}):\n{log_path.read_text()}")
        if result(task_id) is not None:
            log(f"qcluster up: first task done {time.perf_counter() - started:.2f} s after start")
            return
        time.sleep(0.05)
    raise SystemExit(f"qcluster ran no task within 60 s:\n{log_path.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- Events -------------------------------------------------------------------------


def fire_and_wait(bench, contact) -> Sample:
    """Fire the trigger event for ``contact`` in its own transaction; wait for
    its first step run."""
    from django.db import transaction

    from conductor.models import StepRun
    from contacts.services import fire_event

    with transaction.atomic():
        activity = fire_event(event=bench.entered, contact=contact, data={"bench": True})
    assert activity is not None  # the bench's events are never blocked
    committed = time.perf_counter()
    runs = StepRun.objects.filter(enrollment__contact=contact).order_by("visit")
    while (waited := time.perf_counter() - committed) < TIMEOUT:
        ran_at = runs.values_list("ran_at", flat=True).first()
        if ran_at is not None:
            return Sample(contact.pk, activity.occurred_at, ran_at, waited)
        time.sleep(POLL_EVERY)
    return Sample(contact.pk, activity.occurred_at, None, TIMEOUT)


# --- Figures ------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def enqueued_to_run(samples: list[Sample]) -> list[float]:
    """ran_at - enqueue time of the ``conductor-run`` task queued for each
    event: the latest one queued at or before the step ran."""
    from django_q.models import Task

    queued = sorted(Task.objects.filter(name="conductor-run").values_list("started", flat=True))
    gaps = []
    for sample in samples:
        before = [q for q in queued if sample.occurred_at <= q <= sample.ran_at]
        if before:
            gaps.append((sample.ran_at - before[-1]).total_seconds())
    return gaps


def figures_of(samples: list[Sample], poll: float | None, load_before: float) -> dict:
    from _conductor import load_average

    done = [s for s in samples if s.ran_at is not None]
    latencies = [s.seconds for s in done]
    seen = [s.seen_seconds for s in done]
    gaps = enqueued_to_run(done)
    if not latencies:
        raise SystemExit("no event reached its first step")
    log(
        f"{len(done)} of {len(samples)} events reached the first step; latency "
        f"min {min(latencies):.3f} s, mean {sum(latencies) / len(latencies):.3f} s; "
        f"{len(gaps)} matched to their task: enqueue → step "
        f"p50 {percentile(gaps, 0.5) if gaps else float('nan'):.3f} s; "
        f"load {load_average():.2f}"
    )
    return {
        "bench": "trigger_latency",
        "events": len(samples),
        "p50": round(percentile(latencies, 0.50), 3),
        "p95": round(percentile(latencies, 0.95), 3),
        "max": round(max(latencies), 3),
        "seen_p50": round(percentile(seen, 0.50), 3),
        "seen_p95": round(percentile(seen, 0.95), 3),
        "enqueued_to_run_p50": round(percentile(gaps, 0.50), 3) if gaps else None,
        "timeouts": len(samples) - len(done),
        "poll": SETTINGS_POLL if poll is None else poll,
        "load_before": load_before,
    }


if __name__ == "__main__":
    main()
