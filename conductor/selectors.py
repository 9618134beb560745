"""Reads of who a conversation's messages reached and what they did with them:
its sent deliveries and the email activity they caused, row by row (the
figures summed over them are ``conductor.reports``).

Activity is read through the ``activity_conversation`` index (the list, the
kind and ``details.conversation_id``), as the reports read it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Exists, IntegerField, Min, OuterRef, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from conductor.models import Conversation
from contacts.models import Activity, ActivityKind
from contacts.selectors import within
from emails.models import Delivery, DeliveryStatus, Message

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

#: The activity an email of a conversation can cause.
EMAIL_ACTIVITY_KINDS = (
    ActivityKind.EMAIL_OPENED,
    ActivityKind.EMAIL_CLICKED,
    ActivityKind.EMAIL_BOUNCED,
    ActivityKind.EMAIL_SPAM,
    ActivityKind.UNSUBSCRIBED,
    ActivityKind.EMAIL_CONVERTED,
)


class _DeliveryId(TypedDict):
    """What ``conversation_email_activity`` annotates each activity with."""

    delivery: int | None


def conversation_email_activity(
    *, conversation: Conversation
) -> QuerySet[WithAnnotations[Activity, _DeliveryId]]:
    """The activity the conversation's emails caused, each row annotated with
    ``delivery``: the id of the delivery whose email it came of."""
    return Activity.objects.filter(
        list_id=conversation.list_id,
        kind__in=list(EMAIL_ACTIVITY_KINDS),
        details__conversation_id=conversation.pk,
    ).annotate(delivery=Cast(KeyTextTransform("delivery_id", "details"), IntegerField()))


def sent_deliveries(
    *,
    conversation: Conversation,
    message: Message,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    with_activity: str | None = None,
) -> QuerySet[Delivery]:
    """The deliveries of ``message`` the conversation sent, sent between
    ``start`` and ``end`` (inclusive) when given; with ``with_activity`` (an
    ``ActivityKind``), only those whose email caused activity of that kind."""
    sent = Delivery.objects.filter(
        step_run__enrollment__conversation=conversation,
        message=message,
        status=DeliveryStatus.SENT,
    )
    sent = within(sent, column="sent_at", start=start, end=end)
    if with_activity is not None:
        had = conversation_email_activity(conversation=conversation).filter(
            kind=with_activity, delivery=OuterRef("pk")
        )
        sent = sent.filter(Exists(had))
    return sent


def first_sent_at(*, conversation: Conversation, message: Message) -> datetime.datetime | None:
    """When the conversation first sent ``message``; None before it has."""
    sent = sent_deliveries(conversation=conversation, message=message)
    return sent.aggregate(first=Min("sent_at"))["first"]


def activity_by_delivery(
    *, conversation: Conversation, delivery_ids: Iterable[int]
) -> dict[int, list[Activity]]:
    """``{delivery id: its email's activity, oldest first}``, in one query; a
    delivery whose email caused none is left out."""
    by_delivery: dict[int, list[Activity]] = defaultdict(list)
    activity = conversation_email_activity(conversation=conversation).filter(
        delivery__in=list(delivery_ids)
    )
    for row in activity.order_by("occurred_at", "pk"):
        assert row.delivery is not None  # the filter above names a delivery
        by_delivery[row.delivery].append(row)
    return dict(by_delivery)


def link_clicks_between(
    *,
    conversation: Conversation,
    link_id: int,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> QuerySet[Activity]:
    """The clicks on link ``link_id`` of the conversation's emails, made
    between ``start`` and ``end`` (inclusive) when given."""
    clicks = Activity.objects.filter(
        list_id=conversation.list_id,
        kind=ActivityKind.EMAIL_CLICKED,
        details__conversation_id=conversation.pk,
        details__link_id=link_id,
    )
    return within(clicks, column="occurred_at", start=start, end=end)
