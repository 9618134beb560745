"""Many workers, and a killed one: every step runs once per visit and every
email goes out once, with real ``run_conductor`` processes and a real SMTP
server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from conductor.models import Enrollment, EnrollmentState, StepKind, StepRun
from conductor.versions import publish
from emails.models import Delivery, DeliveryStatus
from tests.factories import MessageFactory, contacts_entering, conversation_with_steps
from tests.smtp import start_smtp_server
from tests.test_import_admin_browser import database_url

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


def contacts_due(shop, count: int) -> None:
    """``count`` contacts just entered into a published Message → Terminate conversation."""
    send = (StepKind.MESSAGE, {"message": MessageFactory.create(list=shop).pk})
    conversation, _ = conversation_with_steps(shop, send, (StepKind.TERMINATE, {}), name="Race")
    publish(conversation)
    contacts_entering(conversation, count)


def worker(smtp, tmp_path: Path, name: str, *args: str, lease: int = 300) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
        "SECRET_KEY": "race-test",
        "DEBUG": "false",
        "CONDUCTOR_LEASE_SECONDS": str(lease),
        "REDIS_URL": "",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_conductor", "--once", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def assert_each_ran_once(count: int, smtp) -> None:
    assert StepRun.objects.count() == 2 * count  # the message and the terminate of each
    assert (
        not StepRun.objects.values("enrollment", "visit")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    recipients = [m["To"] for m in smtp.messages]
    assert len(recipients) == len(set(recipients))  # nobody mailed twice
    assert not Enrollment.objects.exclude(state=EnrollmentState.FINISHED).exists()


def test_four_workers_racing_run_every_step_and_send_every_email_once(shop, tmp_path):
    count = 10_000 if connection.vendor == "postgresql" else 2_000
    contacts_due(shop, count)
    smtp = start_smtp_server()
    try:
        workers = [worker(smtp, tmp_path, f"w{n}", "--batch", "500") for n in range(4)]
        for process in workers:
            assert process.wait(timeout=600) == 0, (tmp_path / "w0.log").read_text()
        assert_each_ran_once(count, smtp)
        assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == count
        assert len(smtp.messages) == count
    finally:
        smtp.controller.stop()


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(shop, tmp_path):
    count = 3_000 if connection.vendor == "postgresql" else 1_000
    contacts_due(shop, count)
    smtp = start_smtp_server()
    try:
        victim = worker(smtp, tmp_path, "victim", "--batch", str(count), lease=3)
        # Kill it once it is inside the batch: some step runs written, not all.
        deadline = time.monotonic() + 120
        while StepRun.objects.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        time.sleep(3.5)  # its claims and sends lapse
        survivor = worker(smtp, tmp_path, "survivor", "--batch", "500", lease=3)
        assert survivor.wait(timeout=600) == 0, (tmp_path / "survivor.log").read_text()
        assert_each_ran_once(count, smtp)
        # Only the emails the victim had handed to the server are uncertain (at
        # most two per connection); the rest of its claim went to the survivor.
        sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
        uncertain = Delivery.objects.filter(status=DeliveryStatus.UNCERTAIN).count()
        assert sent <= len(smtp.messages) <= sent + uncertain
        assert sent + uncertain == count
        assert uncertain <= 2 * 3  # two per connection, EMAIL_CONNECTIONS of them
    finally:
        smtp.controller.stop()
