"""Shared set-up of the Conductor benchmarks (bench/conductor.py,
bench/trigger_latency.py): a list with profile fields and events, a published
conversation, contacts entered as the trigger enters them, and the
environment of the worker processes.

Import it after ``_setup.start_django``: it uses the models.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from conductor.engine.entry import enroll
from conductor.models import Conversation, Step, StepKind, Trigger, TriggerKind, Version
from conductor.versions import create_conversation, publish, working_version
from contacts.models import ActivityKind, Contact
from lists.models import DataType, Event, List, ProfileField, ProfileFieldGroup

FIELDS = {
    "Group": DataType.NUMERIC,
    "Points": DataType.NUMERIC,
    "Entered": DataType.DATE,
    "Code": DataType.TEXT,
}
CONTACT_BATCH = 5_000
ENTRY_BATCH = 10_000


@dataclass
class BenchList:
    email_list: List
    fields: dict[str, ProfileField]  # by name
    entered: Event  # the event that triggers the conversation
    done: Event  # fired by the conversation; triggers nothing

    def key(self, name: str) -> str:
        """The key of field ``name`` in ``Contact.profile``."""
        return self.fields[name].key


@dataclass
class Flow:
    conversation: Conversation
    version: Version
    steps: list[Step]  # of the published version, in thread order
    trigger: Trigger


def make_list(name: str = "bench conductor") -> BenchList:
    email_list = List.objects.create(name=name)
    group = ProfileFieldGroup.objects.create(list=email_list, name="Bench")
    fields = {
        field_name: ProfileField.objects.create(
            list=email_list, group=group, name=field_name, data_type=data_type, position=n
        )
        for n, (field_name, data_type) in enumerate(FIELDS.items())
    }
    return BenchList(
        email_list=email_list,
        fields=fields,
        entered=Event.objects.create(list=email_list, name="Bench entered"),
        done=Event.objects.create(list=email_list, name="Bench done"),
    )


def publish_flow(bench: BenchList, steps: list[tuple[str, dict]], name: str = "Bench") -> Flow:
    """Publish a conversation of ``steps`` (kind, settings) on the main thread,
    triggered by ``bench.entered``. A Go To's ``"target"`` is the index of its
    target in ``steps``; it is replaced by that step's key."""
    conversation = create_conversation(email_list=bench.email_list, name=name)
    trigger = Trigger.objects.create(
        conversation=conversation, kind=TriggerKind.EXTERNAL_EVENT, event=bench.entered
    )
    thread = working_version(conversation).threads.get(is_main=True)
    made = [
        Step.objects.create(thread=thread, kind=kind, position=n, settings=dict(settings))
        for n, (kind, settings) in enumerate(steps)
    ]
    for step in made:
        if step.kind == StepKind.GO_TO:
            step.settings["target"] = str(made[step.settings["target"]].key)
            step.save(update_fields=["settings"])
    version = publish(conversation)  # raises ValidationError naming every problem
    published = list(Step.objects.filter(version=version).order_by("thread_id", "position", "id"))
    return Flow(conversation=conversation, version=version, steps=published, trigger=trigger)


def create_contacts(bench: BenchList, prefix: str, count: int) -> list[int]:
    """``count`` subscribed contacts with empty profiles; returns their ids."""
    now = timezone.now()
    ids: list[int] = []
    for start in range(0, count, CONTACT_BATCH):
        made = Contact.objects.bulk_create(
            Contact(list=bench.email_list, email=f"{prefix}{n:07d}@example.com", subscribed_at=now)
            for n in range(start, min(start + CONTACT_BATCH, count))
        )
        ids.extend(c.pk for c in made)
    return ids


def enter_contacts(bench: BenchList, flow: Flow, contact_ids: list[int]) -> None:
    """Enter the contacts as the trigger does when ``bench.entered`` fires for
    them (``conductor.engine.entry.enroll``), a transaction per batch."""
    details = {"event_id": bench.entered.pk, "event_name": bench.entered.name, "data": {}}
    list_id = bench.email_list.pk
    triggers = list(Trigger.objects.filter(pk=flow.trigger.pk).select_related("conversation"))
    for start in range(0, len(contact_ids), ENTRY_BATCH):
        rows: list[tuple[int, int, str, dict[str, Any]]] = [
            (contact_id, list_id, ActivityKind.EVENT_FIRED, details)
            for contact_id in contact_ids[start : start + ENTRY_BATCH]
        ]
        with transaction.atomic():
            enroll(rows, triggers)


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have after a bulk load."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@contextlib.contextmanager
def mail_server() -> Iterator[str]:
    """A real SMTP server (aiosmtpd, as the tests use); yields its EMAIL_URL
    for the workers and points this process at it too. No step here sends
    mail, but ``run_due`` connects to the server after every claim."""
    from django.conf import settings

    from tests.smtp import start_smtp_server

    server = start_smtp_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield f"smtp://{server.host}:{server.port}"
    finally:
        server.controller.stop()


def worker_env(url: str, email_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``manage.py`` worker subprocess on ``url``."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_URL": email_url,
        # The one start_django set: task packages are signed with it.
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only"),
        "DEBUG": "false",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def load_average() -> float:
    """The 1-minute load average (2 cores here: above 2, work is queueing)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def worker_command(batch: int) -> list[str]:
    return [sys.executable, "manage.py", "run_conductor", "--once", "--batch", str(batch)]


@dataclass
class WorkerRun:
    """``count`` workers' run: seconds until the last exited, and what each did."""

    seconds: float
    steps: list[int]  # step visits, per worker
    emails: list[int]  # emails sent, per worker

    @staticmethod
    def shares(counts: list[int]) -> list[float]:
        """Each worker's part of the whole (0.5 and 0.5: an even split)."""
        total = sum(counts)
        return [round(n / total, 3) if total else 0.0 for n in counts]


#: The last line of ``run_conductor``: "N step visits run, M emails sent."
DONE = re.compile(r"(\d+) step visits run, (\d+) emails sent\.")


def run_workers(env: dict[str, str], count: int, batch: int) -> WorkerRun:
    """Start ``count`` ``run_conductor --once`` workers at once; return when
    the last has exited. Their output goes to stderr; a failed one stops."""
    from _setup import ROOT

    with tempfile.TemporaryDirectory() as directory:
        logs = [Path(directory) / f"worker{n}.log" for n in range(count)]
        started = time.perf_counter()
        processes = []
        for path in logs:
            with open(path, "wb") as stream:
                processes.append(
                    subprocess.Popen(
                        worker_command(batch),
                        cwd=ROOT,
                        env=env,
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        codes = [process.wait() for process in processes]
        seconds = time.perf_counter() - started
        done = WorkerRun(seconds, [], [])
        for n, (code, path) in enumerate(zip(codes, logs, strict=True)):
            output = path.read_text(errors="replace").strip()
            print(f"worker {n} (exit {code}): {output[-2000:]}", file=sys.stderr, flush=True)
            if code != 0:
                raise SystemExit(f"worker {n} failed")
            found = DONE.search(output)
            done.steps.append(int(found.group(1)) if found else 0)
            done.emails.append(int(found.group(2)) if found else 0)
    return done
