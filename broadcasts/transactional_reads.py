"""Reads of a transactional message's sends: their emails, and the activity
those caused, row by row (``TransactionalMessageActivity``).

Activity is read through the ``activity_transactional`` index (its
``details.transactional_id``, then the kind), as ``broadcasts`` migration
0002 made it for PostgreSQL."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, IntegerField, OuterRef, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from broadcasts.models import TransactionalMessage, TransactionalSend
from contacts.models import Activity, ActivityKind
from contacts.selectors import within
from emails.models import Delivery, DeliveryStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

#: The activity an email can cause after it is sent.
EMAIL_ACTIVITY_KINDS = (
    ActivityKind.EMAIL_OPENED,
    ActivityKind.EMAIL_CLICKED,
    ActivityKind.EMAIL_BOUNCED,
    ActivityKind.EMAIL_SPAM,
    ActivityKind.UNSUBSCRIBED,
    ActivityKind.EMAIL_CONVERTED,
)


class _DeliveryId(TypedDict):
    delivery: int | None


def send_type() -> ContentType:
    """The content type of transactional sends: their deliveries' source."""
    return ContentType.objects.get_for_model(TransactionalSend)


def resend_key_text(send: TransactionalSend) -> str:
    """The send's ``resendKey`` as Listrak writes it: a UUID with hyphens."""
    return str(uuid.UUID(send.resend_key))


def send_by_key(
    *, transactional_message: TransactionalMessage, key: str
) -> TransactionalSend | None:
    """The send of ``transactional_message`` whose resend key is ``key`` (a
    UUID, with or without hyphens); None when it has none. Raises ValueError
    for a key that is not a UUID."""
    hex_key = uuid.UUID(key.strip()).hex
    found = TransactionalSend.objects.filter(
        transactional_message=transactional_message, resend_key=hex_key
    )
    return found.select_related("contact", "transactional_message__list").first()


def email_activity(
    *, transactional_message: TransactionalMessage
) -> QuerySet[WithAnnotations[Activity, _DeliveryId]]:
    """The activity the message's emails caused, each annotated with
    ``delivery``: the id of the delivery whose email it came of."""
    return Activity.objects.filter(
        kind__in=list(EMAIL_ACTIVITY_KINDS),
        details__transactional_id=transactional_message.pk,
    ).annotate(delivery=Cast(KeyTextTransform("delivery_id", "details"), IntegerField()))


def sent_emails(
    *,
    transactional_message: TransactionalMessage,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    by_activity: bool = False,
    with_activity: str | None = None,
    email: str | None = None,
) -> QuerySet[Delivery]:
    """The sent emails of the message's sends: sent between ``start`` and
    ``end`` (both inclusive, when given), or with ``by_activity`` those whose
    activity (of kind ``with_activity``, when given) happened then; with
    ``with_activity`` alone, those that caused activity of that kind; to
    ``email`` only, when given."""
    sends = TransactionalSend.objects.filter(transactional_message=transactional_message)
    sent = Delivery.objects.filter(
        source_type=send_type(),
        source_id__in=sends.values("pk"),
        status=DeliveryStatus.SENT,
    )
    if email is not None:
        sent = sent.filter(contact__email=email)
    if not by_activity:
        sent = within(sent, column="sent_at", start=start, end=end)
    if by_activity or with_activity is not None:
        had = email_activity(transactional_message=transactional_message).filter(
            delivery=OuterRef("pk")
        )
        if with_activity is not None:
            had = had.filter(kind=with_activity)
        if by_activity:
            had = within(had, column="occurred_at", start=start, end=end)
        sent = sent.filter(Exists(had))
    return sent


def activity_by_delivery(
    *, transactional_message: TransactionalMessage, delivery_ids: Iterable[int]
) -> dict[int, list[Activity]]:
    """``{delivery id: its email's activity, oldest first}``, in one query."""
    by_delivery: dict[int, list[Activity]] = defaultdict(list)
    activity = email_activity(transactional_message=transactional_message).filter(
        delivery__in=list(delivery_ids)
    )
    for row in activity.order_by("occurred_at", "pk"):
        assert row.delivery is not None  # the filter above names a delivery
        by_delivery[row.delivery].append(row)
    return dict(by_delivery)


def sends_of(deliveries: Iterable[Delivery]) -> dict[int, TransactionalSend]:
    """``{delivery id: its send}``, in one query."""
    deliveries = list(deliveries)
    sends = TransactionalSend.objects.in_bulk({d.source_id for d in deliveries})
    return {d.pk: sends[d.source_id] for d in deliveries if d.source_id in sends}
