"""Claiming a shard of the Segment outbox: one worker at a time, under a lease.

A worker picks the free shards with waiting messages, least recently claimed
first, and takes one by a compare-and-swap of its lease token and expiry: an
UPDATE that matches only while the shard is free, so of two workers racing
for it one wins and the other tries the next. Another may take the shard
only once the lease has run out (``SEGMENT_LEASE_SECONDS``), which is how the
shard of a worker that died is taken over.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from integrations.models import MessageStatus, SegmentIntegration, SegmentMessage, SegmentShard


@dataclass
class Lease:
    """A worker's hold on one shard, and where to send its messages."""

    shard_id: int
    integration_id: int
    number: int
    endpoint: str
    write_key: str
    token: str
    expires_at: datetime.datetime


def lease_length() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.SEGMENT_LEASE_SECONDS)


def claim_shard() -> Lease | None:
    """Lease the shard that has waited longest among those with messages due,
    or return None when none is free."""
    now = timezone.now()
    for _ in range(3):
        candidates = _claim_candidates(now)
        for shard_id, integration_id, number, endpoint, write_key in candidates:
            token, expires_at = uuid.uuid4().hex, now + lease_length()
            # The compare-and-swap: of two workers after the same shard, the
            # database lets exactly one UPDATE match its row.
            taken = (
                SegmentShard.objects.filter(pk=shard_id)
                .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
                .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
                .update(lease_token=token, lease_expires_at=expires_at, claimed_at=now)
            )
            if taken:
                return Lease(
                    shard_id, integration_id, number, endpoint, write_key, token, expires_at
                )
        if len(candidates) < CLAIM_CANDIDATES:
            return None  # fewer free shards with messages than asked for: all tried
    return None


#: Free shards considered per claim, least recently claimed first.
CLAIM_CANDIDATES = 4

# The free shards are sorted first, and only then checked for waiting messages,
# one at a time until enough are found (``OFFSET 0`` keeps PostgreSQL from
# checking them all before sorting): a drained shard's range of the pending
# index holds its deleted rows until vacuum, so each check of one costs.
CLAIM_SQL = """
SELECT c.id, c.integration_id, c.number, c.endpoint, c.write_key FROM (
    SELECT s.id, s.integration_id, s.number, i.endpoint, i.write_key
    FROM {shard} s JOIN {integration} i ON i.id = s.integration_id
    WHERE i.enabled AND (s.lease_expires_at IS NULL OR s.lease_expires_at < %s)
        AND (s.not_before IS NULL OR s.not_before <= %s)
    ORDER BY s.claimed_at IS NOT NULL, s.claimed_at, s.id
    {keep_order}
) c
WHERE EXISTS (
    SELECT 1 FROM {message} m
    WHERE m.integration_id = c.integration_id AND m.shard = c.number AND m.status = 'pending'
)
LIMIT %s
"""


def _claim_candidates(now: datetime.datetime) -> list[tuple[int, int, int, str, str]]:
    sql = CLAIM_SQL.format(
        shard=SegmentShard._meta.db_table,
        integration=SegmentIntegration._meta.db_table,
        message=SegmentMessage._meta.db_table,
        keep_order="OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0",
    )
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [moment, moment, CLAIM_CANDIDATES])
        return cursor.fetchall()


def seconds_until_next_retry() -> float | None:
    """How long until a shard held back for a retry may be claimed: 0 when
    one came due since the last claim looked, None when no free shard's
    message waits for a retry. (Shards another worker holds are its work.)"""
    now = timezone.now()
    pending = SegmentMessage.objects.filter(
        integration_id=OuterRef("integration_id"),
        shard=OuterRef("number"),
        status=MessageStatus.PENDING,
    )
    soonest = (
        SegmentShard.objects.filter(integration__enabled=True, not_before__isnull=False)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Exists(pending))
        .aggregate(soonest=Min("not_before"))["soonest"]
    )
    return None if soonest is None else max((soonest - now).total_seconds(), 0.0)
