"""A broker outage: with Redis (django-q2's broker) killed, writes still
succeed and say so, and the sweeps do the work once Redis is back.

django-q2 goes through a real ``redis-server``: its ``Conf`` is pointed at
it for the test, as ``REDIS_URL`` does in production. Transactions really
commit here, so the tasks are queued when they would be in production.
"""

from __future__ import annotations

import logging
from multiprocessing import Value
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.worker import worker

from conductor.models import (
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
    StepRun,
    Trigger,
    TriggerKind,
)
from conductor.versions import create_conversation, publish, working_version
from contacts.imports.models import ImportStatus, ListImport
from contacts.models import Contact
from tests.api_helpers import api_caller
from tests.factories import EventFactory, ListFactory
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)

#: The schedules that find work whose task was never queued (``migrate`` makes them).
SWEEPS = ("conductor", "emails", "resume-imports", "resume-opt-in-confirmations", "segment")


@pytest.fixture
def redis_broker(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> RedisServer:
    """django-q2 queues its tasks in ``redis_server`` (settings use the ORM broker)."""
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)  # the settings' database broker
    monkeypatch.setattr(Conf, "REDIS", redis_server.url)
    return redis_server


def conversation(email_list, *, trigger: str, event=None) -> None:
    """A published conversation of one Terminate step."""
    flow = create_conversation(email_list=email_list, name="Flow")
    Trigger.objects.create(conversation=flow, kind=trigger, event=event)
    thread = working_version(flow).threads.get(is_main=True)
    Step.objects.create(thread=thread, kind=StepKind.TERMINATE, position=0, settings={})
    publish(flow)


def queued() -> list[dict]:
    """The task packages waiting in Redis, taken off it, as a worker takes them."""
    broker = get_broker()
    packages = []
    for _ in range(broker.queue_size()):
        ((_ack, package),) = broker.dequeue()
        packages.append(SignedPackage.loads(package))
    return packages


def run_tasks(packages: list[dict]) -> None:
    """Run these tasks with django-q2's own worker and monitor, in this process."""
    tasks, results = Queue(), Queue()
    for package in packages:
        tasks.put(package)
    tasks.put("STOP")
    worker(tasks, results, Value("f", -1))
    results.put("STOP")
    monitor(results)


def run_the_schedules() -> list[str]:
    """One tick of django-q2's scheduler (queueing every due schedule into
    Redis), then a worker running what it queued. Returns the schedules' names."""
    scheduler()
    packages = queued()
    run_tasks(packages)
    return [p["group"] for p in packages]  # a schedule's task is grouped by its name


def manage(name: str, *argv: str) -> int:
    """Run a command as ``manage.py`` runs it (a CommandError exits 1); its exit status."""
    command = load_command_class(get_commands()[name], name)
    try:
        command.run_from_argv(["manage.py", name, *argv])
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def not_queued_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "contacts.queueing" and r.levelno == logging.WARNING
    ]


def test_with_redis_up_a_contacts_event_queues_the_conductors_task_in_redis(redis_broker):
    shop = ListFactory(name="Shop")
    cart = EventFactory(list=shop, name="Cart")
    conversation(shop, trigger=TriggerKind.EXTERNAL_EVENT, event=cart)
    api = api_caller()

    response = api.post(f"List/{shop.pk}/Contact?eventIds={cart.pk}", {"emailAddress": "a@x.io"})

    assert response.status_code == 201, response.content
    packages = queued()
    assert [p["name"] for p in packages] == ["conductor-run"]
    run_tasks(packages)
    enrollment = Enrollment.objects.get(contact__email="a@x.io")
    assert enrollment.state == EnrollmentState.FINISHED
    assert StepRun.objects.count() == 1


def test_with_redis_down_a_contact_post_with_events_answers_201_and_the_sweep_steps_it_later(
    redis_broker, caplog
):
    shop = ListFactory(name="Shop")
    cart = EventFactory(list=shop, name="Cart")
    conversation(shop, trigger=TriggerKind.EXTERNAL_EVENT, event=cart)
    api = api_caller()
    redis_broker.kill()

    response = api.post(f"List/{shop.pk}/Contact?eventIds={cart.pk}", {"emailAddress": "a@x.io"})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == 201
    contact = Contact.objects.get(list=shop, email="a@x.io")
    enrollment = Enrollment.objects.get(contact=contact)  # enrolled once: no retry needed
    assert enrollment.state == EnrollmentState.ACTIVE
    (warning,) = not_queued_warnings(caplog)
    assert "conductor-run" in warning and "'conductor' schedule" in warning

    redis_broker.start()  # a new, empty Redis on the same port: the task is gone for good
    assert "conductor" in run_the_schedules()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert StepRun.objects.filter(enrollment=enrollment).count() == 1


def test_with_redis_down_import_contacts_exits_0_with_its_true_counts_and_completes(
    redis_broker, caplog, capsys, tmp_path: Path
):
    shop = ListFactory.create(name="Shop")
    conversation(shop, trigger=TriggerKind.SUBSCRIBE)
    path = tmp_path / "contacts.csv"
    path.write_text("Email\na@x.io\nb@x.io\nnot-an-address\n")
    redis_broker.kill()

    status = manage("import_contacts", str(path), "--list", str(shop.pk))

    assert status == 0
    out = capsys.readouterr().out
    assert "processedCount: 3" in out
    assert "subscribedCount: 2" in out
    assert "invalidEmailCount: 1" in out
    list_import = ListImport.objects.get()
    assert list_import.status == ImportStatus.PROCESSING_COMPLETED
    assert list_import.error == ""
    assert Enrollment.objects.filter(state=EnrollmentState.ACTIVE).count() == 2
    (warning,) = not_queued_warnings(caplog)
    assert "conductor-run" in warning

    redis_broker.start()
    run_the_schedules()
    assert Enrollment.objects.filter(state=EnrollmentState.FINISHED).count() == 2


def test_a_scheduler_tick_during_the_outage_leaves_the_sweeps_due_until_redis_is_back(
    redis_broker,
):
    redis_broker.kill()
    scheduler()  # django-q2 logs the broker's error and rolls the whole tick back
    due = Schedule.objects.filter(name__in=SWEEPS, next_run__lt=timezone.now())
    assert due.count() == len(SWEEPS)

    redis_broker.start()
    assert set(run_the_schedules()) >= set(SWEEPS)
    assert not due.exists()  # each sweep ran and waits for its next minute


def test_an_unexpected_error_in_the_api_answers_the_apis_json_500(monkeypatch):
    shop = ListFactory(name="Shop")
    api = api_caller()
    api.http = Client(raise_request_exception=False)  # as a real server answers
    api.post(f"List/{shop.pk}/Contact", {"emailAddress": "a@x.io"})

    def broken(*args, **kwargs):
        raise RuntimeError("a bug with a secret in its message")

    monkeypatch.setattr("api.views.contacts.contact_data", broken)
    response = api.get(f"List/{shop.pk}/Contact/a@x.io")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == 500
    assert body["error"] == "ERROR_UNHANDLED_EXCEPTION"
    assert "secret" not in body["message"]
