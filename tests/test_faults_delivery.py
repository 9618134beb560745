"""Faults while Conductor sends, with real ``run_conductor`` processes and a
real SMTP server that counts what it receives: a worker killed mid-send, the
database restarted mid-send, the mail server down for thirty seconds, and a
connection dropped after an email's data went out.

Each ends with every contact's email received exactly once, except the
emails a fault left Uncertain: those are at most ``2 * EMAIL_CONNECTIONS``
per worker that died (one sending and one waiting per connection), each
received at most once, and shown in the admin."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.urls import reverse

from conductor.engine.tasks import run_due
from conductor.models import Enrollment, EnrollmentState
from contacts.models import Activity, ActivityKind
from contacts.services import subscribe_contact
from emails.models import Delivery, DeliveryStatus
from tests.smtp import HOST, CollectingHandler, SmtpServer, free_port
from tests.test_conductor_race import contacts_due
from tests.test_faults_workers import ON_SQLITE
from tests.test_import_admin_browser import database_url

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 3
LEASE = 3

postgres_only = pytest.mark.skipif(
    ON_SQLITE, reason="needs a PostgreSQL server to restart (the suite's second run has one)"
)


def scale(postgres: int, sqlite: int) -> int:
    return postgres if connection.vendor == "postgresql" else sqlite


class SlowHandler(CollectingHandler):
    """Takes a few milliseconds over each email, as a real server does, so
    that a send lasts long enough to be interrupted; and, for the addresses
    in ``drop_after_data``, stores the email and then drops the connection
    instead of answering."""

    def __init__(self, delay: float = 0.004) -> None:
        super().__init__()
        self.delay = delay
        self.drop_after_data: set[str] = set()

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(self.delay)
        answer = await super().handle_DATA(server, session, envelope)
        if self.drop_after_data & {a.lower() for a in envelope.rcpt_tos}:
            server.transport.close()  # stored, and no answer ever comes
        return answer


def start(handler: SlowHandler, port: int | None = None) -> SmtpServer:
    controller = Controller(handler, hostname=HOST, port=port or free_port())
    controller.start()
    return SmtpServer(controller, handler)


def worker(smtp: SmtpServer, tmp_path: Path, name: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
        "EMAIL_TIMEOUT": "5",
        "EMAIL_CONNECTIONS": str(CONNECTIONS),
        "SECRET_KEY": "fault-test",
        "DEBUG": "false",
        "CONDUCTOR_LEASE_SECONDS": str(LEASE),
        "REDIS_URL": "",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_conductor", "--poll", "0.2", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def all_settled() -> bool:
    connection.close()  # a fresh look, after a restart too
    unsettled = [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.HANDED]
    return (
        not Enrollment.objects.exclude(state=EnrollmentState.FINISHED).exists()
        and not Delivery.objects.filter(status__in=unsettled).exists()
        and not Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(claim_token="").exists()
    )


def assert_nothing_lost_nothing_twice(count: int, smtp: SmtpServer, *, uncertain_at_most: int):
    received = Counter(m["To"] for m in smtp.messages)
    assert max(received.values()) == 1, [a for a, n in received.items() if n > 1]
    by_status = Counter(Delivery.objects.values_list("status", flat=True))
    assert set(by_status) <= {DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN}, by_status
    assert by_status[DeliveryStatus.SENT] + by_status[DeliveryStatus.UNCERTAIN] == count
    assert by_status[DeliveryStatus.UNCERTAIN] <= uncertain_at_most, by_status
    sent = set(
        Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("contact__email", flat=True)
    )
    assert sent <= set(received), sent - set(received)  # every Sent one really arrived
    # Every email that arrived is Sent or Uncertain; none is Pending to go again.
    assert set(received) - sent <= set(
        Delivery.objects.filter(status=DeliveryStatus.UNCERTAIN).values_list(
            "contact__email", flat=True
        )
    )
    # One "sent" activity per Sent email, recorded by its worker or by the sweep.
    activities = Activity.objects.filter(kind=ActivityKind.EMAIL_SENT)
    assert activities.count() == by_status[DeliveryStatus.SENT]
    assert activities.values("contact").distinct().count() == by_status[DeliveryStatus.SENT]


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_leaves_at_most_two_per_connection_uncertain(shop, tmp_path):
    count = scale(1_500, 400)
    contacts_due(shop, count)
    smtp = start(SlowHandler())
    workers = []
    try:
        workers = [worker(smtp, tmp_path, f"w{n}", "--batch", "500") for n in range(2)]
        wait_until(lambda: len(smtp.messages) > count // 4, 120, "sending to be under way")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=30)
        # The survivor takes over the victim's claim once its lease runs out.
        wait_until(all_settled, 180, "every email to be settled")
        assert_nothing_lost_nothing_twice(count, smtp, uncertain_at_most=2 * CONNECTIONS)
        assert workers[1].poll() is None, (tmp_path / "w1.log").read_text()
    finally:
        stop(*workers)
        smtp.controller.stop(no_assert=True)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_database_restart_mid_send_loses_no_email(shop, tmp_path):
    from tests.test_faults_workers import postgresql_data_directory, restart_postgresql

    count = 1_500
    contacts_due(shop, count)
    smtp = start(SlowHandler())
    workers = []
    try:
        workers = [worker(smtp, tmp_path, f"w{n}", "--batch", "500") for n in range(2)]
        wait_until(lambda: len(smtp.messages) > count // 4, 120, "sending to be under way")
        restart_postgresql(postgresql_data_directory(), down_seconds=2)
        wait_until(all_settled, 180, "every email to be settled")
        # Each worker may have had its connections' emails in flight when the
        # database went away; everything else is sent exactly once.
        assert_nothing_lost_nothing_twice(count, smtp, uncertain_at_most=2 * 2 * CONNECTIONS)
        for n, process in enumerate(workers):
            assert process.poll() is None, (tmp_path / f"w{n}.log").read_text()
    finally:
        stop(*workers)
        smtp.controller.stop(no_assert=True)


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_down_for_thirty_seconds_delays_but_loses_nothing(shop, tmp_path):
    count = scale(600, 300)
    contacts_due(shop, count)
    handler = SlowHandler()
    smtp = start(handler)
    port = smtp.port
    workers = []
    try:
        workers = [worker(smtp, tmp_path, f"w{n}", "--batch", "200") for n in range(2)]
        wait_until(lambda: len(smtp.messages) > count // 4, 120, "sending to be under way")
        smtp.controller.stop(no_assert=True)
        during = len(handler.messages)
        time.sleep(30)
        assert len(handler.messages) == during
        unsent = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        assert Delivery.objects.filter(status__in=unsent).exists()  # they wait, not fail
        smtp = start(handler, port=port)  # the same server comes back
        wait_until(all_settled, 180, "every email to be settled")
        # Emails cut off mid-exchange when it stopped may be uncertain.
        assert_nothing_lost_nothing_twice(count, smtp, uncertain_at_most=2 * CONNECTIONS)
    finally:
        stop(*workers)
        smtp.controller.stop(no_assert=True)


@pytest.mark.django_db
def test_a_connection_dropped_after_data_is_uncertain_never_resent_and_staff_may_resend(
    shop, settings, admin_client
):
    from tests.tracking_helpers import publish_mailing

    handler = SlowHandler(delay=0)
    handler.drop_after_data.add("bo@example.com")
    smtp = start(handler)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        publish_mailing(shop)
        for address in ("ada@example.com", "bo@example.com", "cy@example.com"):
            subscribe_contact(email_list=shop, email=address, method="API")
        run_due()
        run_due()  # a second pass must not send Bo's again
        received = Counter(m["To"] for m in smtp.messages)
        assert received == {"ada@example.com": 1, "bo@example.com": 1, "cy@example.com": 1}
        bo = Delivery.objects.get(contact__email="bo@example.com")
        assert bo.status == DeliveryStatus.UNCERTAIN
        assert "may have gone out" in bo.error
        assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2

        # Staff see it among the deliveries, and choose to send it again.
        listing = admin_client.get(
            reverse("admin:emails_delivery_changelist"), {"status__exact": "Uncertain"}
        ).content.decode()
        assert "bo@example.com" in listing and "ada@example.com" not in listing
        handler.drop_after_data.clear()
        response = admin_client.post(
            reverse("admin:emails_delivery_changelist"),
            {"action": "resend_selected", "_selected_action": [bo.pk]},
        )
        assert response.status_code == 302
        run_due()
        assert Counter(m["To"] for m in smtp.messages)["bo@example.com"] == 2
        bo.refresh_from_db()
        assert bo.status == DeliveryStatus.SENT
    finally:
        smtp.controller.stop(no_assert=True)


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_whose_connection_drops_after_data_never_sends_that_email_twice(
    shop, tmp_path
):
    count = scale(300, 100)
    contacts_due(shop, count)
    handler = SlowHandler(delay=0)
    dropped = {f"p{n:05d}@example.com" for n in (7, count // 2, count - 1)}
    handler.drop_after_data |= dropped
    smtp = start(handler)
    process = None
    try:
        process = worker(smtp, tmp_path, "w0", "--batch", "100")
        wait_until(all_settled, 120, "every email to be settled")
        time.sleep(1)  # a second look: nothing is sent again
        assert_nothing_lost_nothing_twice(count, smtp, uncertain_at_most=len(dropped))
        uncertain = Delivery.objects.filter(status=DeliveryStatus.UNCERTAIN)
        assert set(uncertain.values_list("contact__email", flat=True)) == dropped
        assert all("may have gone out" in d.error for d in uncertain)
    finally:
        if process is not None:
            stop(process)
        smtp.controller.stop(no_assert=True)
