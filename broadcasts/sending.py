"""Sending a broadcast: started when its time comes, its recipients chosen
in the database a slice at a time, its emails sent by the emails app.

- **Start** (``start_due``): a Scheduled broadcast whose ``send_at`` has come
  turns Sending (compare-and-swap, so one worker starts it) and its
  message's content is frozen: every email renders that, whatever staff edit.
- **Choose** (``choose_recipients``): one worker at a time holds a broadcast
  under a lease and writes its deliveries with ``INSERT … SELECT`` over the
  next ``SLICE`` contacts by id, the cursor moving in the same transaction.
  A worker that dies mid-slice rolls the slice back; its lease runs out and
  another goes on from the cursor. The deliveries' unique (source, contact)
  key makes a slice written twice write nothing more: one email per contact.
- **Send**: each slice's commit queues the emails app's sending; any number
  of workers claim deliveries (``emails.sending.delivery``), and skip at
  send time a contact who is no longer subscribed, or banned or suppressed.
- **Finish** (``finish_sent``): a broadcast whose recipients are all chosen
  and whose emails have all ended is Sent.

The workers' loop over these steps is ``broadcasts.worker``.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Field, Q, QuerySet, Subquery
from django.utils import timezone

from broadcasts.audiences import REMAINDER, broadcast_type, check_criteria, recipients
from broadcasts.models import Broadcast, BroadcastStatus, SplitTest, SplitTestStatus
from contacts.models import Contact
from contacts.queueing import enqueue_now
from core.claims import lease
from emails.contents import freeze
from emails.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

#: Contacts chosen per statement: big enough that a million take fifty, small
#: enough that workers start sending within a second of the start.
SLICE = 20_000
#: How long one worker chooses recipients before it sends some too.
TIME_BUDGET_SECONDS = 50
UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.HANDED)
CANCELLED_REASON = "Not sent: the broadcast was cancelled."
#: Waiting emails a cancel skips in its own transaction (a staff request);
#: workers skip the rest as they come to them.
SKIP_AT_ONCE = 10_000


def queue_sending() -> None:
    """Have a worker start, choose and send what broadcasts have waiting
    (``broadcasts.worker``)."""
    enqueue_now("broadcasts.worker.send_spreading", task_name="broadcasts-send", sweep="broadcasts")


# --- Start --------------------------------------------------------------------


def start_due(now: datetime.datetime | None = None) -> int:
    """Scheduled broadcasts whose time has come: Sending, content frozen.
    Returns how many this call started."""
    now = now or timezone.now()
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now)
    started = 0
    for pk in due.order_by("send_at").values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            broadcast = (
                Broadcast.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=pk, status=BroadcastStatus.SCHEDULED)
                .select_related("message", "list", "saved_audience")
                .first()
            )
            if broadcast is None:
                continue  # another worker started it, or staff cancelled it
            if broadcast.content_id is None:  # a split test's remainder has its winner's
                broadcast.content = freeze(broadcast.message)
            if broadcast.saved_audience_id is not None and broadcast.split_group != REMAINDER:
                # Chosen from the audience as it is now, whatever staff edit in it
                # while the broadcast sends (a remainder has its groups' already).
                broadcast.criteria = broadcast.saved_audience.criteria  # type: ignore[union-attr]  # set: its id is
            broadcast.status = BroadcastStatus.SENDING
            broadcast.started_at = now
            try:
                check_criteria(broadcast.list, broadcast.criteria)
            except ValidationError as problem:
                _stop(broadcast, problem, now)
                continue
            broadcast.save(update_fields=["content", "criteria", "status", "started_at"])
            if broadcast.split_test_id is not None and broadcast.split_group != REMAINDER:
                # Its split test is testing from its groups' start, not the next sweep.
                SplitTest.objects.filter(
                    pk=broadcast.split_test_id, status=SplitTestStatus.SCHEDULED
                ).update(status=SplitTestStatus.TESTING, started_at=now)
            started += 1
    return started


# --- Choose -------------------------------------------------------------------


def choose_recipients(*, budget: float = TIME_BUDGET_SECONDS) -> int:
    """Claim one Sending broadcast whose recipients are not all chosen and
    choose them, slice by slice, for at most ``budget`` seconds. Returns how
    many slices were written (0: nothing to choose, or another holds it)."""
    claimed = _claim_choosing()
    if claimed is None:
        return 0
    pk, token = claimed
    started = time.monotonic()
    slices = 0
    try:
        while True:
            more = _choose_slice(pk, token)
            slices += 1
            if not more or time.monotonic() - started >= budget:
                break
    finally:  # another worker may go on at once, not once the lease runs out
        _release_choosing(pk, token)
    return slices


def _claim_choosing() -> tuple[int, str] | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        pk = (
            Broadcast.objects.filter(status=BroadcastStatus.SENDING, chosen_all=False)
            .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now))
            .select_for_update(skip_locked=True)
            .order_by("started_at", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            return None
        Broadcast.objects.filter(pk=pk).update(claim_token=token, claim_expires_at=now + lease())
    return pk, token


def _release_choosing(pk: int, token: str) -> None:
    Broadcast.objects.filter(pk=pk, claim_token=token).update(claim_token="", claim_expires_at=None)


def _choose_slice(pk: int, token: str) -> bool:
    """Write the deliveries of the next ``SLICE`` recipients and move the
    cursor, in one transaction; returns whether recipients may be left."""
    now = timezone.now()
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update(of=("self",))
            .filter(pk=pk, claim_token=token, status=BroadcastStatus.SENDING)
            .select_related("list", "saved_audience")
            .first()
        )
        if broadcast is None:
            return False  # cancelled, or the claim ran out and another took it
        try:
            ahead = recipients(broadcast).filter(pk__gt=broadcast.chosen_through)
        except ValidationError as problem:  # a field its conditions name was deleted
            _stop(broadcast, problem, now)
            return False
        bound = ahead.order_by("pk").values_list("pk", flat=True)[SLICE - 1 : SLICE]
        upto = next(iter(bound), None)
        chosen = ahead if upto is None else ahead.filter(pk__lte=upto)
        written = _write_deliveries(broadcast, chosen, now)
        if upto is None:
            broadcast.chosen_all = True
        else:
            broadcast.chosen_through = upto
        broadcast.recipients += written
        broadcast.claim_expires_at = now + lease()
        broadcast.save(
            update_fields=["chosen_all", "chosen_through", "recipients", "claim_expires_at"]
        )
        if written:
            transaction.on_commit(queue_sending)
    return not broadcast.chosen_all


def delivery_details(broadcast: Broadcast) -> dict[str, object]:
    """What names the broadcast in every activity of its emails (and so in
    its reports and Segment's track events)."""
    details: dict[str, object] = {"broadcast_id": broadcast.pk}
    if broadcast.google_analytics_campaign_name:
        details["google_analytics_campaign_name"] = broadcast.google_analytics_campaign_name
    return details


def _write_deliveries(
    broadcast: Broadcast, chosen: QuerySet[Contact], now: datetime.datetime
) -> int:
    """One ``INSERT … SELECT``: a Pending delivery of the broadcast to each
    chosen contact that has none yet. Returns how many were written."""
    connection = connections[router.db_for_write(Delivery)]

    def prepared(name: str, value: object) -> object:
        field = Delivery._meta.get_field(name)
        assert isinstance(field, Field)  # a column, not a relation's other side
        return field.get_db_prep_save(value, connection)

    ids_sql, ids_params = chosen.order_by().values("pk").query.sql_with_params()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    columns = (
        "source_type_id, source_id, message_id, content_id, contact_id, status, created_at, "
        "claim_token, error, attempts, merge_context, details, subject, transactional"
    )
    sql = (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT %s, %s, %s, %s, chosen.pk, %s, %s, '', '', 0, %s, %s, '', %s "
        # SQLite reads "ON" after a bare FROM as a join's: the WHERE parts them.
        f"FROM ({ids_sql}) AS chosen WHERE 1 = 1 "
        f"ON CONFLICT DO NOTHING"
    )
    params = [
        broadcast_type().pk,
        broadcast.pk,
        broadcast.message_id,
        broadcast.content_id,
        DeliveryStatus.PENDING.value,
        connection.ops.adapt_datetimefield_value(now),
        prepared("merge_context", {}),
        prepared("details", delivery_details(broadcast)),
        prepared("transactional", False),
        *ids_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


# --- Finish and cancel ----------------------------------------------------------


def unsent(broadcast: Broadcast) -> QuerySet[Delivery]:
    """The broadcast's emails not yet ended: found through the small partial
    index of unsent emails (``delivery_unsent``), not an index of their own,
    which every status change of every email would pay for."""
    return Delivery.objects.filter(
        source_type=broadcast_type(), source_id=broadcast.pk, status__in=UNSENT
    )


def finish_sent() -> int:
    """Sending broadcasts with every recipient chosen and every email ended:
    Sent. Returns how many this call finished."""
    finished = 0
    sending = Broadcast.objects.filter(status=BroadcastStatus.SENDING, chosen_all=True)
    for broadcast in sending.only("pk"):
        if unsent(broadcast).exists():
            continue
        finished += Broadcast.objects.filter(
            pk=broadcast.pk, status=BroadcastStatus.SENDING
        ).update(status=BroadcastStatus.SENT, finished_at=timezone.now())
    return finished


def cancel_sending(broadcast: Broadcast) -> int:
    """The first ``SKIP_AT_ONCE`` emails of a cancelled broadcast still
    waiting: Skipped, with the reason; returns how many. The rest, and any
    that go back to waiting later (a worker that died, a mail server that
    said "later"), are skipped when a worker claims them (``cancelled_emails``):
    none is sent."""
    waiting = unsent(broadcast).filter(status=DeliveryStatus.PENDING).values("pk")
    return Delivery.objects.filter(
        pk__in=Subquery(waiting[:SKIP_AT_ONCE]), status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.SKIPPED, error=CANCELLED_REASON)


def cancelled_emails(deliveries: list[Delivery]) -> dict[int, str]:
    """The emails' withdrawal (``emails.signals``): those of a cancelled
    broadcast are not sent, whenever a worker comes to them."""
    type_id = broadcast_type().pk
    ours = [d for d in deliveries if d.source_type_id == type_id]
    if not ours:
        return {}
    cancelled = set(
        Broadcast.objects.filter(
            pk__in={d.source_id for d in ours}, status=BroadcastStatus.CANCELLED
        ).values_list("pk", flat=True)
    )
    reason = CANCELLED_REASON.removeprefix("Not sent: ").removesuffix(".")
    return {d.pk: reason for d in ours if d.source_id in cancelled}


def _stop(broadcast: Broadcast, problem: ValidationError, now: datetime.datetime) -> None:
    """Stop a broadcast whose audience's conditions no longer work (a profile
    field they name was deleted): Cancelled, with the reason shown on its page;
    its emails still waiting are not sent."""
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.cancelled_at = now
    broadcast.claim_token, broadcast.claim_expires_at = "", None
    broadcast.error = (
        "Stopped: its audience's conditions no longer work ("
        + " ".join(problem.messages)
        + "). Write them again in a new broadcast; the emails already sent stay sent."
    )
    broadcast.save(
        update_fields=["status", "cancelled_at", "claim_token", "claim_expires_at", "error"]
    )
    cancel_sending(broadcast)
    logger.warning("broadcasts: %s stopped: %s", broadcast.pk, broadcast.error)
