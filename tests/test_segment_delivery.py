"""Delivering the outbox to a real local HTTP server standing in for Segment:
the request, its limits, every class of answer, retries and ordering."""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
from collections.abc import Iterator

import pytest
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind
from integrations.models import SHARDS, MessageStatus, SegmentMessage, SegmentShard
from integrations.segment.claims import claim_shard, seconds_until_next_retry
from integrations.segment.client import Answer
from integrations.segment.delivery import deliver_due
from integrations.segment.payloads import MAX_BATCH_BYTES
from tests.factories import ContactFactory
from tests.segment_server import (
    WRITE_KEY,
    Reply,
    SegmentServer,
    make_integration,
    outbox,
    serving,
    speed_up,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)


@pytest.fixture
def segment_server(settings) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


@pytest.fixture
def integration(shop, segment_server: SegmentServer):
    return make_integration(segment_server.endpoint, shop)


def opens(shop, count: int, *, contacts: int = 1, **details: object) -> list[str]:
    """``count`` email_opened activities spread over ``contacts`` contacts;
    returns the messageIds written, in order."""
    people = [ContactFactory.create(list=shop) for _ in range(contacts)]
    record_activities(
        [
            Activity(
                contact=people[n % contacts],
                list_id=shop.pk,
                email=people[n % contacts].email,
                kind=ActivityKind.EMAIL_OPENED,
                details={"n": n, **details},
            )
            for n in range(count)
        ]
    )
    return [m["messageId"] for m in outbox()]


def test_messages_are_posted_as_one_batch_with_basic_auth_and_sent_at(
    shop, integration, segment_server
):
    written = opens(shop, 3)
    stored = outbox()
    assert deliver_due() == 3
    (request,) = segment_server.requests
    assert request.path == "/v1/batch"
    assert request.headers["Content-Type"] == "application/json"
    expected = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert [m["messageId"] for m in request.batch] == written
    sent_at = request.body["sentAt"]
    assert datetime.datetime.fromisoformat(sent_at.replace("Z", "+00:00")) <= timezone.now()
    for message, payload in zip(request.batch, stored, strict=True):
        assert message == {**payload, "sentAt": sent_at}
    assert not SegmentMessage.objects.exists()
    assert sum(SegmentShard.objects.values_list("delivered_count", flat=True)) == 3


def test_a_request_carries_at_most_100_messages(shop, integration, segment_server):
    opens(shop, 250)
    assert deliver_due() == 250
    assert [len(r.batch) for r in segment_server.requests] == [100, 100, 50]


def test_a_request_stays_within_500_kb(shop, integration, segment_server):
    opens(shop, 60, link_id="x" * 20_000)  # about 20 KB each
    assert deliver_due() == 60
    sizes = [len(r.raw) for r in segment_server.requests]
    assert len(sizes) == 3
    assert all(size <= MAX_BATCH_BYTES for size in sizes)
    assert sum(len(r.batch) for r in segment_server.requests) == 60


def test_one_connection_is_kept_alive_across_requests(shop, integration, segment_server):
    opens(shop, 300)
    deliver_due()
    assert len(segment_server.requests) == 3
    assert segment_server.connections == 1


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_a_2xx_answer_delivers(shop, integration, segment_server, status):
    segment_server.script(Reply(status=status, body=""))
    opens(shop, 2)
    assert deliver_due() == 2
    assert not SegmentMessage.objects.exists()


RETRYABLE = {
    "408": Reply(status=408),
    "429": Reply(status=429),
    "500": Reply(status=500, body="oops"),
    "502": Reply(status=502),
    "503": Reply(status=503),
    "504": Reply(status=504),
    "timeout": Reply(stall=1.3),  # the client gives up after SEGMENT_TIMEOUT_SECONDS = 1
    "connection dropped": Reply(drop=True),
}


@pytest.mark.parametrize("failure", list(RETRYABLE))
def test_a_retryable_failure_is_retried_with_the_same_message_ids(
    shop, integration, segment_server, failure
):
    segment_server.script(RETRYABLE[failure])
    written = opens(shop, 3)
    assert deliver_due(wait_for_retries=True, budget=10) == 3
    first, second = segment_server.requests
    assert [m["messageId"] for m in first.batch] == written
    assert [m["messageId"] for m in second.batch] == written
    assert second.status == 200
    assert first.body["sentAt"] <= second.body["sentAt"]  # set again at each attempt
    assert not SegmentMessage.objects.exists()
    shard = SegmentShard.objects.exclude(last_error="").get()
    assert "retry in" in shard.last_error
    assert WRITE_KEY not in shard.last_error


def test_a_failed_attempt_is_counted_and_holds_the_shard_back(
    shop, integration, segment_server, settings
):
    settings.SEGMENT_RETRY_BASE_SECONDS = 60  # a slow run must not retry within deliver_due()
    segment_server.script(Reply(status=500, body="down for maintenance"))
    opens(shop, 2)
    assert deliver_due() == 0
    waiting = SegmentMessage.objects.all()
    assert {(m.attempts, m.last_status, m.last_response) for m in waiting} == {
        (1, 500, "HTTP 500 Internal Server Error")
    }
    shard = SegmentShard.objects.get(number=waiting[0].shard, integration=integration)
    assert shard.not_before > timezone.now() - datetime.timedelta(seconds=1)
    assert shard.lease_token == ""  # released for whoever comes after the backoff


def test_retry_after_in_seconds_is_honoured(shop, integration, segment_server):
    segment_server.script(Reply(status=429, headers={"Retry-After": "1"}))
    opens(shop, 1)
    assert deliver_due(wait_for_retries=True, budget=10) == 1
    first, second = segment_server.requests
    assert second.at - first.at >= 0.95


def test_retry_after_as_an_http_date_is_honoured(shop, integration, segment_server):
    later = timezone.now() + datetime.timedelta(seconds=30)
    header = email.utils.format_datetime(later.astimezone(datetime.UTC), usegmt=True)
    segment_server.script(Reply(status=503, headers={"Retry-After": header}))
    opens(shop, 1)
    deliver_due()
    shard = SegmentShard.objects.exclude(not_before=None).get()
    assert abs((shard.not_before - later).total_seconds()) < 2
    assert claim_shard() is None  # held back until then
    assert deliver_due() == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501, 505, 302])
def test_other_answers_dead_letter_the_batch_with_the_answer_kept(
    shop, integration, segment_server, status
):
    segment_server.script(Reply(status=status, body='{"error":"invalid batch"}'))
    opens(shop, 150)
    assert deliver_due() == 50  # the next batch of the shard goes on
    assert len(segment_server.requests) == 2
    dead = SegmentMessage.objects.filter(status=MessageStatus.DEAD)
    assert dead.count() == 100
    assert set(dead.values_list("last_status", "last_response", "attempts")) == {
        (status, Answer(status).describe(), 1)  # the status and its reason, not the body
    }
    assert not SegmentMessage.objects.filter(status=MessageStatus.PENDING).exists()
    assert deliver_due() == 0  # never retried on their own
    assert len(segment_server.requests) == 2


def test_a_message_that_fails_every_attempt_becomes_a_dead_letter(
    shop, integration, segment_server, settings
):
    settings.SEGMENT_MAX_ATTEMPTS = 3
    segment_server.script(*[Reply(status=500, body="still down")] * 3)
    opens(shop, 2)
    assert deliver_due(wait_for_retries=True, budget=10) == 0
    assert len(segment_server.requests) == 3
    dead = SegmentMessage.objects.filter(status=MessageStatus.DEAD)
    assert set(dead.values_list("attempts", "last_status", "last_response")) == {
        (3, 500, "HTTP 500 Internal Server Error")
    }


def test_a_message_too_old_becomes_a_dead_letter_at_its_next_failure(
    shop, integration, segment_server
):
    segment_server.script(Reply(status=503))
    opens(shop, 1)
    SegmentMessage.objects.update(created_at=timezone.now() - datetime.timedelta(hours=2))
    assert deliver_due(wait_for_retries=True, budget=5) == 0
    assert SegmentMessage.objects.get().status == MessageStatus.DEAD
    assert len(segment_server.requests) == 1


def test_a_contacts_later_messages_never_overtake_one_waiting_for_its_retry(
    shop, integration, segment_server
):
    # One contact, 250 messages: three requests from one shard. The first
    # fails twice; the later requests must wait for it.
    segment_server.script(Reply(status=500), Reply(drop=True))
    written = opens(shop, 250)
    assert deliver_due(wait_for_retries=True, budget=10) == 250
    assert [m["messageId"] for m in segment_server.delivered] == written
    answered = [(len(r.batch), r.status) for r in segment_server.requests]
    assert answered == [(100, 500), (100, None), (100, 200), (100, 200), (50, 200)]


def test_a_retry_that_came_due_after_the_claim_looked_is_due_now_not_gone(
    shop, integration, segment_server
):
    # The claim ran just before the shard's not_before; by the time the loop
    # asks how long to wait, it has passed. "None waiting" would end the run
    # with the messages undelivered (a flaky failure CI once caught).
    opens(shop, 2)
    number = SegmentMessage.objects.values_list("shard", flat=True).first()
    shard = SegmentShard.objects.get(integration=integration, number=number)
    shard.not_before = timezone.now() - datetime.timedelta(milliseconds=5)
    shard.save(update_fields=["not_before"])
    assert seconds_until_next_retry() == 0.0
    # Held by another worker's lease, it is that worker's retry to wait for.
    shard.lease_token = "theirs"
    shard.lease_expires_at = timezone.now() + datetime.timedelta(minutes=1)
    shard.save(update_fields=["lease_token", "lease_expires_at"])
    assert seconds_until_next_retry() is None


def test_each_contacts_messages_arrive_in_order_across_shards_and_retries(
    shop, integration, segment_server
):
    segment_server.script(*[Reply(status=502), Reply(), Reply(status=429), Reply()] * 5)
    opens(shop, 300, contacts=80)
    written = outbox()
    assert len({m["anonymousId"] for m in written}) == 80
    assert deliver_due(wait_for_retries=True, budget=20) == 300
    order = {m["messageId"]: index for index, m in enumerate(written)}
    by_contact: dict[str, list[int]] = {}
    for message in segment_server.delivered:
        by_contact.setdefault(message["anonymousId"], []).append(order[message["messageId"]])
    assert all(indexes == sorted(indexes) for indexes in by_contact.values())
    assert sorted(i for indexes in by_contact.values() for i in indexes) == list(range(300))


def test_a_leased_shard_is_not_claimed_again_until_its_lease_runs_out(shop, integration):
    opens(shop, 1)
    lease = claim_shard()
    assert lease is not None
    assert claim_shard() is None  # the only shard with messages is taken
    SegmentShard.objects.filter(pk=lease.shard_id).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    again = claim_shard()
    assert again is not None
    assert again.shard_id == lease.shard_id
    assert again.token != lease.token


def test_messages_are_partitioned_by_contact_into_shards(shop, integration):
    opens(shop, 20, contacts=10)
    shards = dict(SegmentMessage.objects.values_list("contact_id", "shard").distinct())
    assert len(shards) == 10
    assert all(shard == contact_id % SHARDS for contact_id, shard in shards.items())


def test_a_disabled_integrations_messages_wait(shop, integration, segment_server):
    opens(shop, 2)
    integration.enabled = False
    integration.save()
    assert deliver_due() == 0
    assert segment_server.requests == []
    assert SegmentMessage.objects.count() == 2


def test_the_outbox_is_sent_once_the_change_commits_by_a_queued_task(
    shop, integration, segment_server, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf

    from integrations.segment import queueing

    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs the task at once, here
    monkeypatch.setattr(queueing, "QUEUE_INTERVAL", 0.05)
    monkeypatch.setattr(queueing, "_queued_at", 0.0)
    with django_capture_on_commit_callbacks(execute=True):
        ContactFactory(list=shop)
        opens(shop, 2)
    assert len(segment_server.delivered) == 2
    assert not SegmentMessage.objects.exists()


def test_writes_within_a_second_queue_a_single_delivery_task(
    shop, integration, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    from integrations.segment import queueing

    monkeypatch.setattr(queueing, "_queued_at", 0.0)
    before = OrmQ.objects.count()
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            opens(shop, 1)
    queued = OrmQ.objects.count() - before
    assert queued == 1


def test_the_segment_schedule_is_registered_once():
    from django_q.models import Schedule

    from integrations.apps import schedule_segment

    schedule_segment(using="default")
    schedule_segment(using="default")
    (schedule,) = Schedule.objects.filter(name="segment")
    assert schedule.func == "integrations.segment.tasks.sweep"
    assert schedule.minutes == 1


def test_the_request_body_is_valid_json_byte_for_byte(shop, integration, segment_server):
    opens(shop, 5, user_agent='Quote " and \\ backslash and é')
    deliver_due()
    (request,) = segment_server.requests
    parsed = json.loads(request.raw)
    assert parsed["batch"][0]["properties"]["list_name"] == "Shop"
    assert request.raw.isascii()


def test_the_minute_sweep_resumes_a_lost_backfill_and_delivers_it(
    shop, segment_server, monkeypatch
):
    from integrations.segment import queueing, tasks

    monkeypatch.setattr(queueing, "QUEUE_INTERVAL", 0.05)
    for n in range(3):
        ContactFactory(list=shop, email=f"p{n}@example.com")
    make_integration(segment_server.endpoint, shop)  # its backfill task never ran
    assert tasks.sweep() == {"backfilled": 3, "delivered": 3}
    assert sorted(m["anonymousId"] for m in segment_server.delivered) == [
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
    ]
