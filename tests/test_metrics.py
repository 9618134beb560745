"""``/metrics``: off (404) until ``METRICS_TOKEN`` is set, then only for
its bearer (401 otherwise); Prometheus' text format with django-prometheus'
metrics and the platform's gauges, each counted right, each through an
index on PostgreSQL; and, served by gunicorn with several workers as in
production, counters summed over the workers."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from conductor.models import EnrollmentState
from contacts.hooks import record_activities
from contacts.imports.models import ImportStatus, ListImport
from contacts.models import Activity, ActivityKind
from emails.models import DeliveryStatus
from integrations.models import MessageStatus, SegmentMessage
from tests.factories import (
    ContactFactory,
    DeliveryFactory,
    EnrollmentFactory,
    SegmentIntegrationFactory,
)
from tests.test_security_http import exchange, gunicorn_serving, request_bytes
from tests.test_settings import start

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-" + "t" * 20


@pytest.fixture
def metrics_on(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text answer: (name, labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def scrape(client, token: str = TOKEN) -> str:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version=")
    return answer.content.decode()


# --- Who may read them -----------------------------------------------------------------


def test_metrics_answer_404_while_metrics_token_is_unset(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token-of-the-same-kind-xxxxx",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,  # the bare token is no credential
    ],
)
def test_a_missing_or_wrong_token_gets_401_and_no_metric(client, metrics_on, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"retailmail_" not in answer.content


def test_the_scheme_is_matched_without_regard_to_case(client, metrics_on):
    answer = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200


def test_metrics_are_read_only_and_never_cached(client, metrics_on):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/metrics", headers=headers).status_code == 405
    answer = client.get("/metrics", headers=headers)
    assert "no-cache" in answer["Cache-Control"]
    assert not answer.cookies


def test_a_short_metrics_token_stops_the_start_naming_it():
    result = start(SECRET_KEY="x" * 50, METRICS_TOKEN="short")
    assert result.returncode != 0
    assert "METRICS_TOKEN is too short" in result.stderr


def test_a_metrics_token_turns_on_the_counting_of_requests_and_queries():
    off = start(DEBUG="true")
    on = start(DEBUG="true", METRICS_TOKEN=TOKEN)
    assert on.returncode == 0, on.stderr
    assert off.stdout.split()[0] == "django.db.backends.sqlite3"
    assert on.stdout.split()[0] == "django_prometheus.db.backends.sqlite3"


# --- What they say ---------------------------------------------------------------------


def sent_activities(*seconds_ago: int, kind: str = ActivityKind.EMAIL_SENT) -> None:
    contact = ContactFactory.create()
    now = timezone.now()
    record_activities(
        [
            Activity(
                contact=contact,
                list=contact.list,
                email=contact.email,
                kind=kind,
                occurred_at=now - datetime.timedelta(seconds=ago),
            )
            for ago in seconds_ago
        ]
    )


def platform_rows() -> None:
    """Rows of every kind the gauges count, and some they must not."""
    # Conversations: 2 due now, 1 due in an hour, 1 held, 1 waiting for its email, 1 finished.
    first = EnrollmentFactory.create()
    thread = first.thread
    EnrollmentFactory(thread=thread)
    EnrollmentFactory(thread=thread, due_at=timezone.now() + datetime.timedelta(hours=1))
    EnrollmentFactory(thread=thread, state=EnrollmentState.HELD, held_reason="Broken template")
    EnrollmentFactory(thread=thread, state=EnrollmentState.SENDING)
    EnrollmentFactory(thread=thread, state=EnrollmentState.FINISHED)
    # Deliveries (their contacts' enrollments finished, so not due): 3 pending,
    # 1 claimed, 1 with the mail server; 1 sent, 1 uncertain, 1 skipped not counted.
    for status in [DeliveryStatus.PENDING] * 3 + [
        DeliveryStatus.SENDING,
        DeliveryStatus.HANDED,
        DeliveryStatus.SENT,
        DeliveryStatus.UNCERTAIN,
        DeliveryStatus.SKIPPED,
    ]:
        DeliveryFactory(status=status, step_run__enrollment__state=EnrollmentState.FINISHED)
    # Segment: a backlog of 2, 1 dead letter.
    integration = SegmentIntegrationFactory.create()
    for message_status in [MessageStatus.PENDING] * 2 + [MessageStatus.DEAD]:
        SegmentMessage.objects.create(
            integration=integration, shard=0, kind="identify", payload="{}", status=message_status
        )
    # Imports: 1 waiting, 1 running, 1 done.
    shop = first.conversation.list
    done = ImportStatus.PROCESSING_COMPLETED
    for import_status in (ImportStatus.DATA_UPLOADED, ImportStatus.PROCESSING_DATA, done):
        ListImport.objects.create(list=shop, file_name="a.csv", status=import_status)
    # Sent emails: 2 in the last minute, 1 two minutes ago; an open is not a send.
    sent_activities(5, 40, 120)
    sent_activities(5, kind=ActivityKind.EMAIL_OPENED)


EXPECTED = {
    ("retailmail_conversation_contacts", (("state", "due"),)): 2,
    ("retailmail_conversation_contacts", (("state", "held"),)): 1,
    ("retailmail_deliveries", (("status", "pending"),)): 3,
    ("retailmail_deliveries", (("status", "sending"),)): 1,
    ("retailmail_deliveries", (("status", "handed"),)): 1,
    ("retailmail_segment_messages", (("status", "pending"),)): 2,
    ("retailmail_segment_messages", (("status", "dead"),)): 1,
    ("retailmail_imports", (("status", "waiting"),)): 1,
    ("retailmail_imports", (("status", "running"),)): 1,
    ("retailmail_emails_sent_last_minute", ()): 2,
    ("retailmail_activity_default_partition_rows", ()): 0,  # tests/test_activity_partitions.py
}


def platform_samples(text: str) -> dict:
    return {key: value for key, value in samples(text).items() if key[0].startswith("retailmail_")}


def test_each_platform_gauge_counts_the_rows_it_names(client, metrics_on):
    platform_rows()
    assert platform_samples(scrape(client)) == EXPECTED


def test_with_nothing_to_count_every_gauge_is_there_and_zero(client, metrics_on):
    assert platform_samples(scrape(client)) == dict.fromkeys(EXPECTED, 0)


def test_the_answer_holds_django_prometheus_metrics_too(client, metrics_on):
    names = families(scrape(client))
    assert "django_model_inserts" in names  # django-prometheus, installed
    assert "process_cpu_seconds" in names  # prometheus_client's own


if connection.vendor == "postgresql":

    def test_each_gauge_reads_an_index_on_postgresql(client, metrics_on):
        platform_rows()
        with CaptureQueriesContext(connection) as queries:
            scrape(client)
        reads = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
        assert len(reads) == 10
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
            for sql in reads:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert "Seq Scan" not in plan, f"{sql}\n{plan}"


# --- As production serves them ---------------------------------------------------------


@pytest.fixture
def gunicorn_with_metrics(django_db_setup: None, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """gunicorn with two workers on the test database, METRICS_TOKEN set in
    its environment and django-prometheus' counters shared between the
    workers (PROMETHEUS_MULTIPROC_DIR), as the README says to run it."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    extra = {"METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with gunicorn_serving(extra, workers=2, ready=("/healthz", 200)) as address:
        yield address


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_request_and_query_counters_summed_over_its_workers(
    gunicorn_with_metrics,
):
    address = gunicorn_with_metrics
    # No heartbeat left by a cluster an earlier test ran (the cache table outlives tests).
    caches["django_q"].clear()
    DeliveryFactory.create_batch(2, step_run__enrollment__state=EnrollmentState.FINISHED)
    for _ in range(6):  # one connection each: both workers answer some
        assert exchange(address, request_bytes("GET", "/healthz", {})).status == 200
    # The readiness probe too, an async view under gunicorn's sync workers: no
    # cluster runs here, and the rest is well.
    unready = exchange(address, request_bytes("GET", "/readyz", {}))
    assert unready.status == 503
    assert unready.json()["checks"] == {
        "database": "ok",
        "broker": "ok",
        "migrations": "ok",
        "workers": "no worker seen in the last 120 s",
    }
    wrong = exchange(address, request_bytes("GET", "/metrics", {"Authorization": "Bearer no"}))
    assert wrong.status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    exchange(address, request_bytes("GET", "/metrics", bearer))  # its queries count in the next
    answer = exchange(address, request_bytes("GET", "/metrics", bearer))
    assert answer.status == 200
    found = samples(answer.body.decode())
    healthz = ("method", "GET"), ("status", "200"), ("view", "healthz")
    # The liveness probe that waited for gunicorn to start, then these six.
    assert found[("django_http_responses_total_by_status_view_method_total", healthz)] == 7
    vendor = ("alias", "default"), ("vendor", connection.vendor)
    assert found[("django_db_execute_total", vendor)] >= 10  # the first scrape's counts
    assert found[("retailmail_deliveries", (("status", "pending"),))] == 2
