"""Setting up Segment integrations, and what the admin shows and does.

Writes go through these services (admin, commands); reads for the admin
through the selectors at the end.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models import (
    DEFAULT_ENDPOINT,
    SHARDS,
    MessageStatus,
    SegmentIntegration,
    SegmentListSync,
    SegmentMessage,
    SegmentShard,
)
from integrations.segment import payloads
from integrations.segment.client import Answer, SegmentClient
from integrations.segment.delivery import request_body
from integrations.segment.endpoints import EndpointNotAllowed, check_endpoint
from integrations.segment.outbox import forget_synced_lists
from integrations.segment.queueing import queue_backfill, queue_delivery_on_commit
from lists.models import List, ProfileField

logger = logging.getLogger(__name__)

#: The address of the admin's test identify: ``.invalid`` is never a real mailbox.
TEST_ADDRESS = "segment-test@retailmail.invalid"


def validate_endpoint(endpoint: str) -> str:
    """The endpoint as its origin (no trailing slash); ValidationError naming
    it and what is allowed unless ``SEGMENT_ALLOWED_HOSTS`` allows it."""
    try:
        return check_endpoint(endpoint)
    except EndpointNotAllowed as refused:
        raise ValidationError(str(refused), code="endpoint_not_allowed") from None


@transaction.atomic
def create_integration(
    *, name: str, write_key: str, endpoint: str = DEFAULT_ENDPOINT, enabled: bool = True
) -> SegmentIntegration:
    """Create an integration with its shards. The write key is stored as given
    (it is sent to Segment) and never shown in full again."""
    if not write_key.strip():
        raise ValidationError({"write_key": "The write key is required."})
    integration = SegmentIntegration.objects.create(
        name=name.strip(),
        write_key=write_key.strip(),
        endpoint=validate_endpoint(endpoint),
        enabled=enabled,
    )
    ensure_shards(integration)
    return integration


def ensure_shards(integration: SegmentIntegration) -> None:
    """Give ``integration`` its ``SHARDS`` shard rows (those missing)."""
    SegmentShard.objects.bulk_create(
        [SegmentShard(integration=integration, number=n) for n in range(SHARDS)],
        ignore_conflicts=True,
    )


def ensure_all_shards() -> None:
    """Every integration's shards (an integration made without the service)."""
    for integration in SegmentIntegration.objects.annotate(n=Count("shards")).filter(n__lt=SHARDS):
        ensure_shards(integration)


@transaction.atomic
def sync_list(
    *,
    integration: SegmentIntegration,
    email_list: List,
    user_id_field: ProfileField | None = None,
    backfill: bool = True,
) -> SegmentListSync:
    """Sync ``email_list`` to ``integration`` (or change its userId field) and
    start the backfill of every contact's identify. ``backfill=False`` leaves
    the running of it to the caller (``backfill.backfill_list_sync``); it is
    then resumed by the ``segment`` schedule if the caller does not."""
    if user_id_field is not None and user_id_field.list_id != email_list.pk:
        raise ValidationError(
            {"user_id_field": f"Profile field {user_id_field.pk} is not on list {email_list.pk}."}
        )
    sync, _ = SegmentListSync.objects.update_or_create(
        integration=integration, list=email_list, defaults={"user_id_field": user_id_field}
    )
    start_backfill(sync=sync, queue=backfill)
    return sync


def stop_sync(*, sync: SegmentListSync) -> None:
    """Stop syncing a list. Its messages already in the outbox are still sent."""
    SegmentListSync.objects.filter(pk=sync.pk).delete()


def start_backfill(*, sync: SegmentListSync, queue: bool = True) -> None:
    """(Re)start the backfill of a synced list from its first contact, in
    ``SEGMENT_LIST_CACHE_SECONDS`` (see ``outbox.may_be_synced``); with
    ``queue``, a worker runs it once the transaction commits."""
    now = timezone.now()
    SegmentListSync.objects.filter(pk=sync.pk).update(
        backfill_requested_at=now, backfill_after="", backfilled_at=None
    )
    sync.backfill_requested_at, sync.backfill_after, sync.backfilled_at = now, "", None
    if queue:
        queue_backfill(sync.pk)


@transaction.atomic
def enable_integration(*, integration: SegmentIntegration) -> None:
    """Turn an integration back on. Changes made while it was off wrote no
    messages, so every synced list is backfilled again."""
    SegmentIntegration.objects.filter(pk=integration.pk).update(enabled=True)
    integration.enabled = True
    forget_synced_lists()
    for sync in integration.list_syncs.all():
        start_backfill(sync=sync)


def endpoint_changed(*, integration: SegmentIntegration) -> None:
    """Let an integration's shards go at once after its endpoint changed: a
    hold for the old one (refused, or failing) says nothing of the new."""
    SegmentShard.objects.filter(integration=integration).update(not_before=None)
    queue_delivery_on_commit()


def retry_dead_letters(*, integration: SegmentIntegration) -> int:
    """Put an integration's dead letters back in the outbox, attempts reset;
    returns how many. They go out ahead of the later messages of their shard
    that still wait, but after those already delivered."""
    retried = SegmentMessage.objects.filter(
        integration=integration, status=MessageStatus.DEAD
    ).update(status=MessageStatus.PENDING, attempts=0, dead_at=None)
    if retried:
        # Their shards may be held back by an earlier failure: let them go now.
        SegmentShard.objects.filter(integration=integration).update(not_before=None)
        queue_delivery_on_commit()
    return retried


def delete_integration(*, integration: SegmentIntegration) -> None:
    """Delete an integration, its syncs and its outbox; the outbox with one
    statement, as it may hold millions of messages."""
    with transaction.atomic():
        SegmentMessage.objects.filter(integration=integration)._raw_delete(
            SegmentMessage.objects.db
        )
        integration.delete()


def send_test_identify(*, integration: SegmentIntegration) -> Answer:
    """Send one identify of ``TEST_ADDRESS`` straight away (not through the
    outbox), to check the endpoint and the write key; returns the answer.
    ValidationError, without connecting, when the endpoint is not allowed."""
    endpoint = validate_endpoint(integration.endpoint)
    payload = payloads.identify(
        message_id=str(uuid.uuid4()),
        email=TEST_ADDRESS,
        list_id=0,
        subscribed=False,
        user_id=None,
        timestamp=timezone.now(),
    )
    text = payloads.serialize(payload, contact=TEST_ADDRESS, list_id=0)
    client = SegmentClient(
        endpoint=endpoint, write_key=integration.write_key, timeout=settings.SEGMENT_TIMEOUT_SECONDS
    )
    try:
        answer = client.post(request_body([text], payloads.iso_time(timezone.now())))
    finally:
        client.close()
    if not answer.delivered:  # the body for whoever debugs it; staff see answer.describe()
        logger.warning(
            "Segment integration %s: test identify, %s %r",
            integration.pk,
            answer.describe(),
            answer.body,
        )
    return answer


# --- Selectors ----------------------------------------------------------------


def with_counts(integrations: QuerySet[SegmentIntegration]) -> QuerySet[SegmentIntegration]:
    """Annotate ``backlog`` (messages waiting), ``dead_letters``, ``delivered``
    and ``last_error`` / ``last_error_at`` (the latest failure of any shard)."""
    messages = SegmentMessage.objects.filter(integration=OuterRef("pk")).order_by()
    latest = SegmentShard.objects.filter(integration=OuterRef("pk"), last_error_at__isnull=False)
    latest = latest.order_by("-last_error_at")
    return integrations.annotate(
        backlog=_count(messages.filter(status=MessageStatus.PENDING)),
        dead_letters=_count(messages.filter(status=MessageStatus.DEAD)),
        delivered=Coalesce(
            Subquery(
                SegmentShard.objects.filter(integration=OuterRef("pk"))
                .order_by()
                .values("integration")
                .annotate(total=Sum("delivered_count"))
                .values("total")
            ),
            0,
        ),
        last_error=Subquery(latest.values("last_error")[:1]),
        last_error_at=Subquery(latest.values("last_error_at")[:1]),
    )


def _count(messages: QuerySet[SegmentMessage]) -> Coalesce:
    return Coalesce(Subquery(messages.values("integration").annotate(n=Count("pk")).values("n")), 0)


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    kind: str
    attempts: int
    #: The answer as staff may see it: ``HTTP 400 Bad Request``, ``no answer (…)``.
    answer: str
    dead_at: str


# What delivery now stores for a request without an answer. Rows stored
# before kept the server's body (or an error quoting it): never shown.
NO_ANSWER = re.compile(r"no answer \(\w+\)")


def shown_answer(status: int | None, stored: str) -> str:
    """A dead letter's answer for the admin, from its status alone."""
    if status is not None:
        return Answer(status).describe()
    return stored if NO_ANSWER.fullmatch(stored) else "no answer"


def recent_dead_letters(*, integration: SegmentIntegration, limit: int = 20) -> list[DeadLetter]:
    """The latest dead letters of ``integration`` with the server's answer
    (its status)."""
    rows = (
        SegmentMessage.objects.filter(integration=integration, status=MessageStatus.DEAD)
        .order_by("-id")
        .values_list("message_id", "kind", "attempts", "last_status", "last_response", "dead_at")[
            :limit
        ]
    )
    return [
        DeadLetter(
            str(mid), kind, attempts, shown_answer(status, response), f"{dead_at:%Y-%m-%d %H:%M:%S}"
        )
        for mid, kind, attempts, status, response, dead_at in rows
    ]
