"""Sending the outbox to Segment: shards leased one worker at a time, each
shard's messages in the order they were written.

- **Claim.** A worker leases a whole shard (``claims``), so two workers
  never send the same messages at once; one that crashed leaves its shard to
  the others after ``SEGMENT_LEASE_SECONDS``. The lease is renewed as the
  worker goes, and it sends a request only while at least 1.5 timeouts of its
  lease remain (``SEGMENT_LEASE_SECONDS`` is at least twice
  ``SEGMENT_TIMEOUT_SECONDS``).
- **Order.** Messages are partitioned by contact, and a shard's messages are
  sent in id order: each contact's in the order they happened. A failed
  request holds the whole shard back (``not_before``), so a later message of
  the contact never overtakes one waiting for its retry.
- **Answers.** 2xx: delivered, and deleted (counted on the shard). 408, 429,
  5xx but 501/505, timeouts and connection errors: retried with jittered
  exponential backoff, or after ``Retry-After``; a message past
  ``SEGMENT_MAX_ATTEMPTS`` or ``SEGMENT_MAX_AGE_SECONDS`` becomes a dead
  letter. Any other answer (3xx included: redirects are not followed): dead
  letters at once, with the answer's status kept (its body only in the log).
- **Endpoint.** A shard whose integration's endpoint is not allowed (see
  ``endpoints``; saved before ``SEGMENT_ALLOWED_HOSTS`` changed, or written
  to the database directly) is not sent: nothing connects, its messages
  wait, and the integration's shards are held back a while, with the reason
  as the last error.
- **At least once.** Delivered messages are recorded a window (up to
  ``WINDOW`` messages) at a time, in one transaction. A crash before that
  sends them again, with the same ``messageId``, which Segment de-duplicates.
"""

from __future__ import annotations

import datetime
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from integrations.models import MessageStatus, SegmentMessage, SegmentShard
from integrations.segment.claims import Lease, claim_shard, lease_length, seconds_until_next_retry
from integrations.segment.client import Answer, SegmentClient
from integrations.segment.endpoints import EndpointNotAllowed, check_endpoint
from integrations.segment.payloads import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    SENT_AT_BYTES,
    iso_time,
)

logger = logging.getLogger(__name__)

#: Messages read per query and recorded per transaction; also the most a
#: crashed worker can have sent without recording it.
WINDOW = 1000
#: Messages sent from one shard before the worker lets other shards have a turn.
SLICE = 5000
#: How long an integration whose endpoint is not allowed is left before a
#: worker looks again (a fix in the admin releases it at once).
REFUSED_ENDPOINT_HOLD_SECONDS = 60
#: ``{"batch":[`` … ``],"sentAt":"…"}`` around the messages.
ENVELOPE_BYTES = len('{"batch":[],"sentAt":""}') + len("2024-01-01T00:00:00.000Z")


class Pending(NamedTuple):
    id: int
    payload: str
    attempts: int


@dataclass
class Window:
    """What became of one window's requests."""

    delivered: list[int] = field(default_factory=list)
    dead: list[tuple[list[int], Answer]] = field(default_factory=list)
    failed: tuple[list[Pending], Answer] | None = None
    lease_lost: bool = False


# The two statements run for every window, written out: the ORM's cost of
# building them (a lookup per id of an IN list) was most of a worker's time.
PENDING_SQL = (
    f"SELECT id, payload, attempts FROM {SegmentMessage._meta.db_table}"
    f" WHERE integration_id = %s AND shard = %s AND status = '{MessageStatus.PENDING}'"
    " ORDER BY id LIMIT %s"
)


def pending_messages(lease: Lease) -> list[Pending]:
    """The next ``WINDOW`` waiting messages of a leased shard, in order."""
    with connection.cursor() as cursor:
        cursor.execute(PENDING_SQL, [lease.integration_id, lease.number, WINDOW])
        return list(map(Pending._make, cursor.fetchall()))


def delete_messages(ids: Sequence[int]) -> int:
    """Delete delivered messages, whatever their status; returns how many."""
    if not ids:
        return 0
    table = SegmentMessage._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array literal: a thousand parameters (or literals) would cost
            # more to adapt and plan than the rows take to delete.
            listed = "{" + ",".join(str(int(pk)) for pk in ids) + "}"
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s::bigint[])", [listed])
        else:
            # Integers read from the table itself, inlined: no parameter per id.
            listed = ",".join(str(int(pk)) for pk in ids)
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({listed})")
        return cursor.rowcount


def request_body(payloads: Sequence[str], sent_at: str) -> bytes:
    """The ``/v1/batch`` body: the stored messages, each given ``sentAt``."""
    suffix = f',"sentAt":"{sent_at}"}}'
    messages = ",".join([payload[:-1] + suffix for payload in payloads])
    return f'{{"batch":[{messages}],"sentAt":"{sent_at}"}}'.encode("ascii")


def batches(rows: Sequence[Pending]) -> Iterator[list[Pending]]:
    """Consecutive runs of ``rows`` within Segment's limits per request."""
    per_message = SENT_AT_BYTES + 1  # its sentAt, and a comma
    start = 0
    while start < len(rows):
        batch = list(rows[start : start + MAX_BATCH_MESSAGES])
        size = ENVELOPE_BYTES + sum(len(row.payload) for row in batch) + per_message * len(batch)
        while size > MAX_BATCH_BYTES and len(batch) > 1:  # big messages: fewer of them
            size -= len(batch.pop().payload) + per_message
        start += len(batch)
        yield batch


def retry_delay(attempts: int, answer: Answer) -> float:
    """Seconds before the next attempt: ``Retry-After`` when the server gave
    one, else exponential in the attempts made, with equal jitter (half the
    delay fixed, half random) so that failed workers do not return together."""
    if answer.retry_after is not None:
        return answer.retry_after
    base = settings.SEGMENT_RETRY_BASE_SECONDS
    delay = min(settings.SEGMENT_RETRY_MAX_SECONDS, base * 2 ** min(max(attempts - 1, 0), 30))
    return delay / 2 + random.uniform(0, delay / 2)


class Deliverer:
    """One worker's delivery loop. It keeps one client, and so one keep-alive
    connection, per integration across shards."""

    def __init__(self) -> None:
        self.clients: dict[int, SegmentClient] = {}

    def run(self, *, budget: float = math.inf, wait_for_retries: bool = False) -> int:
        """Send what is due until nothing is (or, with ``wait_for_retries``,
        until nothing is left that comes due within the budget) or the budget
        of seconds is spent. Returns how many messages were delivered."""
        started = time.monotonic()
        delivered = 0
        while time.monotonic() - started < budget:
            lease = claim_shard()
            if lease is not None:
                delivered += self.deliver_shard(lease)
                continue
            wait = seconds_until_next_retry() if wait_for_retries else None
            if wait is None or time.monotonic() - started + wait > budget:
                break
            time.sleep(max(wait, 0.01))
        return delivered

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def deliver_shard(self, lease: Lease) -> int:
        """Send a leased shard's messages in order, window by window, until it
        is empty, a request fails, the lease is lost or ``SLICE`` is reached."""
        try:
            check_endpoint(lease.endpoint)
        except EndpointNotAllowed as refused:
            self._hold_integration(lease, refused)
            return 0
        client = self._client(lease)
        delivered = 0
        while delivered < SLICE:
            rows = pending_messages(lease)
            if not rows:
                break
            window = self._send(lease, client, rows)
            delivered += len(window.delivered)
            if not self._record(lease, window) or window.failed or window.lease_lost:
                return delivered
        SegmentShard.objects.filter(pk=lease.shard_id, lease_token=lease.token).update(
            lease_token="", lease_expires_at=None
        )
        return delivered

    def _hold_integration(self, lease: Lease, refused: EndpointNotAllowed) -> None:
        """Leave an integration whose endpoint is not allowed: no connection,
        no attempt counted (its messages would otherwise dead-letter while the
        operator fixes it), every shard held back, the reason shown."""
        now = timezone.now()
        hold = now + datetime.timedelta(seconds=REFUSED_ENDPOINT_HOLD_SECONDS)
        text = f"{refused} Its messages wait in the outbox until this is fixed."
        logger.warning("Segment integration %s: %s", lease.integration_id, text)
        with transaction.atomic():
            # Every shard, or the next claims would only find the same refusal.
            SegmentShard.objects.filter(integration_id=lease.integration_id).filter(
                Q(not_before__isnull=True) | Q(not_before__lt=hold)
            ).update(not_before=hold)
            SegmentShard.objects.filter(pk=lease.shard_id, lease_token=lease.token).update(
                lease_token="", lease_expires_at=None, last_error=text[:2000], last_error_at=now
            )

    def _client(self, lease: Lease) -> SegmentClient:
        client = self.clients.get(lease.integration_id)
        key_changed = client is not None and client.write_key != lease.write_key
        if client is None or key_changed or client.endpoint != lease.endpoint:
            if client is not None:
                client.close()
            client = SegmentClient(
                endpoint=lease.endpoint,
                write_key=lease.write_key,
                timeout=settings.SEGMENT_TIMEOUT_SECONDS,
            )
            self.clients[lease.integration_id] = client
        return client

    def _send(self, lease: Lease, client: SegmentClient, rows: list[Pending]) -> Window:
        window = Window()
        for batch in batches(rows):
            if not self._keep_lease(lease):
                window.lease_lost = True
                break
            body = request_body([row.payload for row in batch], iso_time(timezone.now()))
            answer = client.post(body)
            if answer.delivered:
                window.delivered.extend(row.id for row in batch)
            elif answer.retryable:
                window.failed = (batch, answer)
                break
            else:
                window.dead.append(([row.id for row in batch], answer))
        return window

    def _keep_lease(self, lease: Lease) -> bool:
        """Whether the lease will outlast one more request, renewing it if
        need be. A worker past its lease must not send: another may have the
        shard by now."""
        now = timezone.now()
        timeout = settings.SEGMENT_TIMEOUT_SECONDS
        if (lease.expires_at - now).total_seconds() >= 1.5 * timeout:
            return True
        expires_at = now + lease_length()
        renewed = SegmentShard.objects.filter(
            pk=lease.shard_id, lease_token=lease.token, lease_expires_at__gt=now
        ).update(lease_expires_at=expires_at)
        if renewed:
            lease.expires_at = expires_at
        return bool(renewed)

    def _record(self, lease: Lease, window: Window) -> bool:
        """Record a window's outcome in one transaction; returns whether the
        lease is still this worker's."""
        now = timezone.now()
        renewed_until = now + lease_length()
        shard: dict[str, object] = {"lease_expires_at": renewed_until}
        with transaction.atomic():
            # Deleted whatever their status: they did reach Segment.
            delivered = delete_messages(window.delivered)
            for ids, answer in window.dead:
                self._dead_letter(SegmentMessage.objects.filter(pk__in=ids), answer, now)
                shard.update(last_error=self._error(lease, answer, len(ids)), last_error_at=now)
            if window.failed is not None:
                shard.update(self._retry_later(lease, *window.failed, now=now))
            if delivered:
                shard["delivered_count"] = F("delivered_count") + delivered
            mine = SegmentShard.objects.filter(pk=lease.shard_id, lease_token=lease.token).update(
                **shard
            )
            if not mine and delivered:  # taken over meanwhile: still count what we sent
                SegmentShard.objects.filter(pk=lease.shard_id).update(
                    delivered_count=F("delivered_count") + delivered
                )
        if mine and window.failed is None:
            lease.expires_at = renewed_until
        return bool(mine)

    def _retry_later(
        self, lease: Lease, batch: list[Pending], answer: Answer, *, now: datetime.datetime
    ) -> dict[str, object]:
        """Count the failed attempt, give up on messages past their attempts
        or age, and hold the shard back until the retry."""
        ids = [row.id for row in batch]
        SegmentMessage.objects.filter(pk__in=ids, status=MessageStatus.PENDING).update(
            attempts=F("attempts") + 1, last_status=answer.status, last_response=answer.describe()
        )
        too_old = now - datetime.timedelta(seconds=settings.SEGMENT_MAX_AGE_SECONDS)
        self._dead_letter(
            SegmentMessage.objects.filter(pk__in=ids).filter(
                Q(attempts__gte=settings.SEGMENT_MAX_ATTEMPTS) | Q(created_at__lt=too_old)
            ),
            answer,
            now,
            count_attempt=False,
        )
        changes: dict[str, object] = {"lease_token": "", "lease_expires_at": None}
        if SegmentMessage.objects.filter(pk__in=ids, status=MessageStatus.PENDING).exists():
            delay = retry_delay(max(row.attempts for row in batch) + 1, answer)
            changes["not_before"] = now + datetime.timedelta(seconds=delay)
            then = f"retry in {delay:.1f} s"
        else:
            then = "dead-lettered: no attempts or time left"
        changes.update(last_error=self._error(lease, answer, len(ids), then), last_error_at=now)
        return changes

    @staticmethod
    def _dead_letter(
        messages: QuerySet[SegmentMessage],
        answer: Answer,
        now: datetime.datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        changes: dict[str, object] = {"status": MessageStatus.DEAD, "dead_at": now}
        if count_attempt:
            changes.update(
                attempts=F("attempts") + 1,
                last_status=answer.status,
                last_response=answer.describe(),
            )
        messages.filter(status=MessageStatus.PENDING).update(**changes)

    @staticmethod
    def _error(lease: Lease, answer: Answer, count: int, then: str = "dead-lettered") -> str:
        # Shown to staff: never the write key, nor the body (only in the log).
        text = f"{answer.describe()} ({count} messages, {then})"
        logger.warning("Segment integration %s: %s %r", lease.integration_id, text, answer.body)
        return text[:2000]


def deliver_due(*, budget: float = math.inf, wait_for_retries: bool = False) -> int:
    """Deliver every message that is due (see :meth:`Deliverer.run`); safe with
    any number of workers, processes or machines at once. Returns how many
    messages were delivered."""
    deliverer = Deliverer()
    try:
        return deliverer.run(budget=budget, wait_for_retries=wait_for_retries)
    finally:
        deliverer.close()
