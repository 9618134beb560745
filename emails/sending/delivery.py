"""Sending emails, at most once each.

A source (a Message step's run) writes a ``Delivery``; after that commits,
a worker claims a batch (Pending → Sending under a lease and a token, SKIP
LOCKED), skips the addresses that may not be mailed now, renders the rest
and sends them over ``EMAIL_CONNECTIONS`` connections at once (``senders``).
Transactional emails (a receipt) are claimed ahead of every other, and the
web request that writes one claims and sends it itself once it commits
(``send_now``), the same way.

Only what is in flight is uncertain. Emails are marked Handed just before
the connections take them, a group of one per connection at a time, and
only once the connections hold no more than a group: each connection is
sending one email and has at most the next one waiting. The answers that
came in (Sent; Skipped when the mail server refused it for good, a 5xx;
back to Pending when it certainly did not go out but may later: a 4xx is
tried again after a growing delay, ``EMAIL_TEMPORARY_RETRIES`` times, then
refused for good) are written in the same statement. So a worker that dies leaves at most
two emails per connection (``2 * EMAIL_CONNECTIONS``) Handed; when its
lease runs out they become Uncertain (shown to staff, who may resend them),
and the rest of its claim, never handed over, goes back to Pending for
another worker. A connection
that drops after the email's data went out (the server may have stored it)
makes that email Uncertain too, rather than risk sending it twice.

An email whose message cannot be rendered is Skipped with the reason, never
retried: fixing the message later must not send it after its moment.
Each email's end is told to its source (``emails.signals``) in the same
transaction: a Message step's contact goes on, or is held when the email
failed for good.

"Sent" activities are recorded 250 at a time; a Sent delivery keeps
its claim token until its activity is, so the sweep records those of a
worker that died in between (``delivery_recovery``). The SMTP exchange
itself is ``smtp``.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import smtplib
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from contacts.models import Ban, Contact, SubscriptionState, Suppression
from contacts.queueing import enqueue_now
from core.bulk import json_strings, update_rows
from core.claims import in_index_order, lease
from emails.contents import as_sent
from emails.mime import CampaignEmail
from emails.models import Delivery, DeliveryStatus, Message, MessageContent
from emails.render import MessageTemplates, TemplateProblem, build_email, merge_fields
from emails.sending.recovery import record_sent, recover_abandoned, release, skip
from emails.sending.senders import MaybeDelivered, Senders, ServerGone
from emails.sending.smtp import send_one
from emails.signals import settled, withdrawn
from lists.models import List, ProfileField

logger = logging.getLogger(__name__)

BATCH = 500
MARK_EVERY = 250
#: What an answer other than Sent changes of a delivery.
ANSWER_FIELDS = ["status", "error", "attempts", "retry_at", "claim_token", "claim_expires_at"]
UNCERTAIN_DROPPED = (
    "The connection dropped after the email was sent, before the mail server answered: "
    "it may have gone out. Not sent again unless you resend it."
)
DELIVERY_FIELDS = [
    "source_type_id",
    "source_id",
    "attempts",
    "message_id",
    "content_id",
    "contact__list_id",
    "contact__email",
    "contact__email_key",
    "contact__state",
    "contact__profile",
    "merge_context",
    "details",
    "transactional",
]


def blocked_addresses(email_list: List, contacts: Iterable[Contact]) -> dict[str, str]:
    """``{address: reason}`` of these contacts' addresses that are banned from
    the list or suppressed."""
    emails = [c.email for c in contacts]
    suppressed = Suppression.objects.filter(email__in=json_strings(emails))
    blocked = {e: "the address is suppressed" for e in suppressed.values_list("email", flat=True)}
    banned = Ban.objects.filter(list=email_list, email__in=json_strings(emails))
    for email in banned.values_list("email", flat=True):
        blocked[email] = "the address is banned"
    return blocked


def queue_deliveries() -> None:
    """Have a worker send the pending deliveries (called once their source commits)."""
    enqueue_now(send_deliveries, task_name="emails-deliveries", sweep="emails")


def send_deliveries(limit: int = BATCH) -> int:
    """Claim up to ``limit`` pending deliveries and send them over
    ``EMAIL_CONNECTIONS`` connections; returns how many were sent."""
    recover_abandoned()
    token, claimed = _claim(limit)
    if not claimed:
        return 0  # no connection to open: conversations without emails never need SMTP
    sendable = _skip_blocked(_load(claimed))
    if not sendable:
        return 0
    return _send_all(sendable, token)


def send_now(delivery_ids: list[int]) -> int:
    """Send these pending deliveries at once, in this process: a transactional
    email, from the web request that wrote it, once that committed. They are
    claimed and sent as a worker does (``_claim``, ``_send_all``), so a crash
    here is recovered as a worker's, and nothing goes out twice. What is not
    sent (the mail server down) stays Pending for the workers and the sweep,
    and a worker is asked for. Never raises: the request has done its part.
    Returns how many were sent."""
    sent = 0
    try:
        token, claimed = _claim(len(delivery_ids), only=delivery_ids)
        sendable = _skip_blocked(_load(claimed)) if claimed else []
        sent = _send_all(sendable, token) if sendable else 0
    except Exception:  # the database gone mid-send: the lease and the sweep recover it
        logger.exception("emails: deliveries %s not sent at once", delivery_ids)
    if sent < len(delivery_ids):
        queue_deliveries()
    return sent


def _claim(limit: int, *, only: list[int] | None = None) -> tuple[str, list[int]]:
    """Pending → Sending under a lease and a token: transactional emails
    first, then the rest, oldest first in each; SKIP LOCKED lets workers
    claim side by side without taking the same delivery. ``only``: claim
    none but these."""
    token = uuid.uuid4().hex
    now = timezone.now()
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    )
    if only is not None:
        due = due.filter(pk__in=only)
    with transaction.atomic():
        # A receipt waits behind no broadcast: its lane (the partial index
        # delivery_transactional_due) holds a handful of rows, read first.
        # ``only``: a few known rows, found by id (a walk of the index in order
        # would read every waiting email when they are not there).
        walk = only is None
        ids = _oldest(due.filter(transactional=True), limit, walk=walk)
        if len(ids) < limit:
            ids += _oldest(due.filter(transactional=False), limit - len(ids), walk=walk)
        if ids:
            # Locked above, still Pending: found by their ids alone (the
            # status index holds every waiting email, not only these).
            Delivery.objects.filter(pk__in=ids).update(
                status=DeliveryStatus.SENDING,
                claim_token=token,
                claim_expires_at=now + lease(),
            )
    return token, ids


def _oldest(due: QuerySet[Delivery], limit: int, *, walk: bool = True) -> list[int]:
    """The ids of up to ``limit`` of ``due``, oldest first, locked for this
    transaction; rows another worker holds are skipped. With ``walk``, read
    in the order an index of waiting emails keeps (``delivery_unsent``, or
    ``delivery_transactional_due`` for receipts), however few the planner's
    statistics expect."""
    locked = due.order_by("created_at").select_for_update(skip_locked=True)
    with in_index_order(Delivery) if walk else contextlib.nullcontext():
        return list(locked.values_list("pk", flat=True)[:limit])


def _load(ids: list[int]) -> list[Delivery]:
    """The claimed deliveries with what sending reads of them and their
    contacts (only that: most of a batch's time would otherwise go into
    building model instances); their messages (as their frozen content
    says, when they have one) and lists, one each."""
    deliveries = list(
        Delivery.objects.select_related("contact")
        .only(*DELIVERY_FIELDS)
        .filter(pk__in=ids)
        .order_by("-transactional", "created_at", "pk")  # sent in the order claimed
    )
    messages = Message.objects.in_bulk({d.message_id for d in deliveries})
    contents = MessageContent.objects.in_bulk({d.content_id for d in deliveries} - {None})
    lists = List.objects.in_bulk({d.contact.list_id for d in deliveries})
    frozen = {pk: as_sent(messages[c.message_id], c) for pk, c in contents.items()}
    for delivery in deliveries:
        if delivery.content_id is None:
            delivery.message = messages[delivery.message_id]
        else:
            delivery.message = frozen[delivery.content_id]
        delivery.contact.list = lists[delivery.contact.list_id]
    return deliveries


def _skip_blocked(deliveries: list[Delivery]) -> list[Delivery]:
    """Deliveries whose contact may not be mailed now (not subscribed, unless
    the email is transactional; banned or suppressed) are Skipped (with the
    reason); the others are returned."""
    by_list: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_list[delivery.contact.list_id].append(delivery)
    skipped, sendable = [], []
    withdrawn_now = withdrawn(deliveries)
    for group in by_list.values():
        contacts = [d.contact for d in group]
        blocked = blocked_addresses(contacts[0].list, contacts)
        for delivery in group:
            contact = delivery.contact
            # Transactional email goes whatever the contact's subscription (it
            # is not marketing); no email goes to a banned or suppressed address.
            if delivery.pk in withdrawn_now:  # its source no longer wants it
                reason = withdrawn_now[delivery.pk]
            elif contact.state != SubscriptionState.SUBSCRIBED and not delivery.transactional:
                reason = f"the contact is {contact.state.lower()}"
            else:
                reason = blocked.get(contact.email, "")
            if reason:
                delivery.status, delivery.error = DeliveryStatus.SKIPPED, f"Not sent: {reason}."
                skipped.append(delivery)
            else:
                sendable.append(delivery)
    with transaction.atomic():
        update_rows(skipped, ["status", "error"])
        settled(went=skipped)  # not the email's fault: its source goes on
    return sendable


def _send_all(deliveries: list[Delivery], token: str) -> int:
    """Render a group ahead (one email per connection); once the connections
    have no more than a group in hand, write the answers that came in and
    the group's hand-over in one statement, then give it to the connections.
    Each connection so has its next email waiting while it sends one, and a
    statement costs a group, not an email."""
    connections = min(settings.EMAIL_CONNECTIONS, len(deliveries))
    # Hand over only while this claim surely holds: past it, another worker may
    # have taken the claim's emails back (``recover_abandoned``).
    holds_until = time.monotonic() + settings.CONDUCTOR_LEASE_SECONDS * 0.8
    progress = _Progress(token)
    renderer = _Renderer()
    waiting = iter(deliveries)
    rendered_all = False
    ready: deque[tuple[Delivery, CampaignEmail]] = deque()  # rendered, not handed over
    answers: list[tuple[Delivery, Exception | None]] = []  # not yet written
    with Senders(connections, send_one, queued=2 * connections) as senders:
        while senders.alive:
            answers += senders.finished()
            group_ready = len(ready) >= connections or (rendered_all and ready)
            if group_ready and senders.in_flight <= connections and time.monotonic() < holds_until:
                handing = [ready.popleft() for _ in range(min(connections, len(ready)))]
                progress.write(answers, [delivery for delivery, _ in handing])
                answers = []
                for delivery, email in handing:
                    if not senders.put(delivery, email):  # every connection is gone
                        ready.append((delivery, email))
                continue
            if len(ready) < connections and not rendered_all:
                if (pending := next(waiting, None)) is None:
                    rendered_all = True
                elif (rendered := renderer.render(pending, token)) is not None:
                    ready.append((pending, rendered))
                continue
            if senders.in_flight == 0 and (not ready or time.monotonic() >= holds_until):
                break  # all sent, or the rest wait for a claim of their own
            senders.wait_for_result(0.05)
        progress.record([*answers, *senders.close()])
    unsent = [delivery for delivery, _ in ready] + list(waiting)
    if unsent:
        reason = senders.last_error or "the claim's lease ran out before they were handed over"
        release(unsent, token, ServerGone(str(reason)))
    return progress.finish()


class _Renderer:
    """Each delivery's email, with the message's templates and the list's
    fields read once per batch. An email that cannot be rendered is Skipped
    with the reason; one the database kept from rendering goes back to Pending."""

    def __init__(self) -> None:
        # By message and frozen content; one that does not compile, once, with its problem.
        self.templates: dict[tuple[int, int | None], MessageTemplates | TemplateProblem] = {}
        self.fields: dict[int, list[ProfileField]] = {}  # by list

    def render(self, delivery: Delivery, token: str) -> CampaignEmail | None:
        try:
            email = self._build(delivery)
        except DatabaseError as error:  # not the email's fault: again later
            logger.warning("emails: delivery %s not rendered: %s", delivery.pk, error)
            release([delivery], token, error)
            return None
        except Exception as error:  # the message or a merge field: this email only, for good
            logger.warning("emails: delivery %s not rendered: %s", delivery.pk, error)
            skip(delivery, token, f"Not sent: the message could not be rendered: {error}")
            return None
        delivery.subject = email.subject  # Segment reports it with each of its activities
        return email

    def _build(self, delivery: Delivery) -> CampaignEmail:
        message, list_id = delivery.message, delivery.contact.list_id
        key = (message.pk, delivery.content_id)
        if key not in self.templates:
            try:
                self.templates[key] = MessageTemplates(message)
            except TemplateProblem as problem:
                self.templates[key] = problem
        templates = self.templates[key]
        if isinstance(templates, TemplateProblem):
            raise TemplateProblem(str(templates))
        if list_id not in self.fields:
            self.fields[list_id] = list(ProfileField.objects.filter(list_id=list_id))
        delivery.merge_context = merge_fields(delivery, self.fields[list_id])
        return build_email(delivery, templates=templates)


class _Progress:
    """A batch's emails as they are handed over and answered. Each statement
    records the answers that came in and marks the next emails Handed, so at
    most one email per connection is ever Handed; "sent" activities, with the
    merge fields and subject, are recorded ``MARK_EVERY`` at a time."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.sent: list[Delivery] = []  # Sent, their activity not yet recorded
        self.total = 0

    def write(
        self, results: Iterable[tuple[Delivery, Exception | None]], handing: list[Delivery]
    ) -> None:
        """One statement: these answers recorded, these deliveries Handed
        (failures, which are rare, take one more)."""
        now = timezone.now()
        expires = now + lease()
        sent: list[Delivery] = []
        failed: list[Delivery] = []
        for delivery, error in results:
            (sent if error is None else failed).append(self._answer(delivery, error, now))
        for delivery in handing:
            delivery.status, delivery.claim_expires_at = DeliveryStatus.HANDED, expires
        if sent or handing:
            _sent_and_handed(sent, handing, token=self.token, now=now, expires=expires)
        if failed:
            with transaction.atomic():
                update_rows(failed, ANSWER_FIELDS)
                settled(
                    went=[d for d in failed if d.status == DeliveryStatus.UNCERTAIN],
                    failed=[d for d in failed if d.status == DeliveryStatus.SKIPPED],
                )
        self.sent += sent
        if len(self.sent) >= MARK_EVERY:
            self.total += record_sent(self.sent)
            self.sent = []

    def record(self, results: Iterable[tuple[Delivery, Exception | None]]) -> None:
        self.write(results, [])

    def _answer(
        self, delivery: Delivery, error: Exception | None, now: datetime.datetime
    ) -> Delivery:
        if error is None:
            delivery.status, delivery.sent_at, delivery.error = DeliveryStatus.SENT, now, ""
        elif isinstance(error, MaybeDelivered):
            logger.warning("emails: delivery %s uncertain: %s", delivery.pk, error)
            delivery.status, delivery.error = DeliveryStatus.UNCERTAIN, UNCERTAIN_DROPPED
            delivery.claim_token, delivery.claim_expires_at = "", None
        elif (answer := refused_for_good(error)) is not None:  # never sent, and never will be
            logger.warning("emails: delivery %s refused: %s", delivery.pk, answer)
            delivery.status = DeliveryStatus.SKIPPED
            delivery.error = f"Not sent: the mail server refused it: {answer}"[:2000]
            delivery.claim_token, delivery.claim_expires_at = "", None
        elif (answer := refused_for_now(error)) is not None:  # again later, a few times
            logger.warning("emails: delivery %s refused for now: %s", delivery.pk, answer)
            _try_again_later(delivery, answer, now)
        else:  # certainly not sent (a 4xx, or the server not reached): again later
            logger.warning("emails: delivery %s not sent: %s", delivery.pk, error)
            delivery.status, delivery.error = DeliveryStatus.PENDING, str(error)[:2000]
            delivery.claim_token, delivery.claim_expires_at = "", None
        return delivery

    def finish(self) -> int:
        self.total += record_sent(self.sent)
        self.sent = []
        return self.total


def _try_again_later(delivery: Delivery, answer: str, now: datetime.datetime) -> None:
    """A temporary refusal of this email: Pending again after a delay that
    grows fourfold each time, or Skipped for good once the retries are spent."""
    delivery.attempts += 1
    delivery.claim_token, delivery.claim_expires_at = "", None
    tries = settings.EMAIL_TEMPORARY_RETRIES + 1
    if delivery.attempts >= tries:
        delivery.status = DeliveryStatus.SKIPPED
        delivery.error = (
            f"Not sent: the mail server refused it {delivery.attempts} times, "
            f"the last time with: {answer}"
        )[:2000]
        return
    delay = settings.EMAIL_RETRY_SECONDS * 4 ** (delivery.attempts - 1)
    delivery.status = DeliveryStatus.PENDING
    delivery.retry_at = now + datetime.timedelta(seconds=delay)
    delivery.error = (
        f"Not sent yet: the mail server answered {answer}. "
        f"Trying again in {_duration(delay)} (try {delivery.attempts + 1} of {tries})."
    )[:2000]


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour{'s' if seconds != 3600 else ''}"
    if seconds % 60 == 0:
        return f"{seconds // 60} minute{'s' if seconds != 60 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def refused_for_now(error: Exception) -> str | None:
    """The mail server's answer, in words, when ``error`` is a temporary
    refusal of this email (a 4xx to its recipient or its data: mailbox
    full, greylisted, too many messages). None for anything else."""
    return _answer_of(error, 400)


def refused_for_good(error: Exception) -> str | None:
    """The mail server's answer, in words, when ``error`` is its final refusal
    of this email: a 5xx to its recipient or its data. None for anything that
    may pass later (a 4xx, a connection refused or timed out), and for a
    refused sender: that is the platform's settings (the list's from address,
    a login the server wants), true of every email, which wait for the fix."""
    return _answer_of(error, 500)


def _answer_of(error: Exception, hundreds: int) -> str | None:
    """ "550 No such user": the server's answer to this email's recipient or
    data when its code is in the ``hundreds`` (400 or 500); else None."""
    text: bytes | str
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        if not answers or any(not hundreds <= code < hundreds + 100 for code, _ in answers):
            return None
        code, text = answers[0]
    elif isinstance(error, smtplib.SMTPDataError):
        code, text = error.smtp_code, error.smtp_error
    else:
        return None
    if not hundreds <= code < hundreds + 100:
        return None
    words = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return " ".join(f"{code} {words}".split())


def _sent_and_handed(
    sent: list[Delivery],
    handed: list[Delivery],
    *,
    token: str,
    now: datetime.datetime,
    expires: datetime.datetime,
) -> None:
    """Sent (keeping the claim's token until the "sent" activity is recorded)
    and Handed, in one small statement: it runs once per round of a send."""
    connection = connections[router.db_for_write(Delivery)]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    when = connection.ops.adapt_datetimefield_value
    sent_ids, all_ids = [d.pk for d in sent], [d.pk for d in [*sent, *handed]]
    params: list[Any]
    if connection.vendor == "postgresql":  # the ids as arrays: few parameters to bind
        sql = _sent_and_handed_sql(table, None, None)
        sent_array, all_array = _id_array(sent_ids), _id_array(all_ids)
        params = [sent_array, sent_array, when(now), token, when(expires), all_array]
    else:
        sql = _sent_and_handed_sql(table, len(sent), len(handed))
        sent_params: list[Any] = [*sent_ids, *sent_ids, when(now)] if sent else []
        params = [*sent_params, token, when(expires), *all_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _id_array(ids: list[int]) -> str:
    """``ids`` as PostgreSQL's array literal (``{1,2,3}``), cast in the
    statement: binding a Python list makes psycopg look over its items for
    their type, which cost more of the worker than the rest of the statement."""
    return "{" + ",".join(map(str, ids)) + "}"


@functools.lru_cache(maxsize=64)
def _sent_and_handed_sql(table: str, sent: int | None, handed: int | None) -> str:
    """The statement of ``_sent_and_handed`` on ``table``: with the ids as
    arrays (None, None: PostgreSQL), or for ``sent`` Sent and ``handed``
    Handed ones, one parameter each."""
    if sent is None or handed is None:
        is_sent = is_any = "id = ANY(%s::bigint[])"
    else:
        is_sent = f"id IN ({', '.join(['%s'] * sent)})"
        is_any = f"id IN ({', '.join(['%s'] * (sent + handed))})"
    if sent == 0:
        status, sent_at = "'Handed'", "NULL"
    else:
        status = f"CASE WHEN {is_sent} THEN 'Sent' ELSE 'Handed' END"
        sent_at = f"CASE WHEN {is_sent} THEN %s ELSE NULL END"
    return (
        f"UPDATE {table} SET status = {status}, sent_at = {sent_at}, error = '', "
        f"claim_token = %s, claim_expires_at = %s WHERE {is_any}"
    )


def resend_uncertain(deliveries: QuerySet[Delivery]) -> int:
    """Staff's choice for Uncertain emails: send them again (the contact may
    then have two). Returns how many were queued."""
    resent = deliveries.filter(status=DeliveryStatus.UNCERTAIN).update(
        status=DeliveryStatus.PENDING,
        error="Resent by staff after it was uncertain.",
        claim_token="",
        claim_expires_at=None,
    )
    if resent:
        transaction.on_commit(queue_deliveries)
    return resent
