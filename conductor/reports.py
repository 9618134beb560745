"""Conversation reports: the figures of Listrak's ``ConversationSummary``
(SPEC section 4) per message of a conversation, and for the whole of it.

Each figure is one aggregate query over the conversation's deliveries or the
list's email activity (through the ``(list, kind, occurred_at)`` index),
grouped by message; nothing is counted row by row in Python.

- ``sent``: emails that went out; ``delivered``: sent minus the contacts
  whose email bounced.
- ``opened``, ``clicked``, ``bounced``, ``unsubscribed``: contacts (each
  counted once per message) who opened it, clicked one of its links (the
  browser and pass-along links included), whose email bounced, who
  unsubscribed through it (its link, a one-click request, a bounce or a
  complaint).
- ``converted``: purchases credited to it; ``revenue`` their total;
  ``average_order_value`` = revenue / converted.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, FloatField, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from conductor.models import Conversation
from conductor.steps.references import MESSAGE, referenced
from conductor.steps.registry import sending_kinds, unit_for
from contacts.models import Activity, ActivityKind
from emails.models import Delivery, DeliveryStatus

#: Activity kind → the figure counting the contacts it happened to.
CONTACT_FIGURES: dict[str, str] = {
    ActivityKind.EMAIL_OPENED: "opened",
    ActivityKind.EMAIL_CLICKED: "clicked",
    ActivityKind.EMAIL_BOUNCED: "bounced",
    ActivityKind.UNSUBSCRIBED: "unsubscribed",
}


@dataclass
class Summary:
    sent: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    converted: int = 0
    revenue: float = 0.0

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)

    @property
    def average_order_value(self) -> float:
        return round(self.revenue / self.converted, 2) if self.converted else 0.0

    def add(self, other: Summary) -> None:
        for name in ("sent", "opened", "clicked", "bounced", "unsubscribed", "converted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.revenue = round(self.revenue + other.revenue, 2)


def message_summaries(conversation: Conversation) -> dict[int, Summary]:
    """``{message id: Summary}`` for every message the conversation sent."""
    summaries: dict[int, Summary] = {}
    sent = (
        Delivery.objects.filter(
            step_run__enrollment__conversation=conversation, status=DeliveryStatus.SENT
        )
        .values("message_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for counted in sent:
        summaries.setdefault(counted["message_id"], Summary()).sent = counted["n"]
    activity = (
        Activity.objects.filter(
            list_id=conversation.list_id,
            kind__in=[*CONTACT_FIGURES, ActivityKind.EMAIL_CONVERTED],
            details__conversation_id=conversation.pk,
        )
        .annotate(message=KeyTextTransform("message_id", "details"))
        .values("kind", "message")
        .annotate(
            contacts=Count("contact_id", distinct=True),
            rows=Count("pk"),
            revenue=Sum(Cast(KeyTextTransform("order_total", "details"), FloatField())),
        )
        .order_by()
    )
    for row in activity:
        if row["message"] is None:
            continue
        summary = summaries.setdefault(int(row["message"]), Summary())
        if row["kind"] == ActivityKind.EMAIL_CONVERTED:
            summary.converted = row["rows"]
            summary.revenue = round(row["revenue"] or 0.0, 2)
        else:
            setattr(summary, CONTACT_FIGURES[row["kind"]], row["contacts"])
    return summaries


def conversation_summary(conversation: Conversation) -> Summary:
    """The conversation's figures: the sum over its messages."""
    total = Summary()
    for summary in message_summaries(conversation).values():
        total.add(summary)
    return total


def conversation_messages(conversation: Conversation, *, previous_versions: bool = False):
    """The messages the conversation's sending steps (Message) name: of its
    latest published version, or of every published version."""
    from conductor.models import Step, Version
    from emails.models import Message

    versions = Version.objects.filter(conversation=conversation, published_at__isnull=False)
    if not previous_versions:
        versions = versions.order_by("-number")[:1]
    ids: set[int] = set()
    steps = Step.objects.filter(version__in=list(versions), kind__in=sending_kinds())
    for kind, settings in steps.values_list("kind", "settings"):
        ids.update(referenced(settings, unit_for(kind).references, MESSAGE))
    return Message.objects.filter(pk__in={i for i in ids if isinstance(i, int)})


def link_clicks(conversation: Conversation, message_id: int) -> dict[int, int]:
    """``{link id: clicks}`` of one message of the conversation."""
    rows = (
        Activity.objects.filter(
            list_id=conversation.list_id,
            kind=ActivityKind.EMAIL_CLICKED,
            details__conversation_id=conversation.pk,
            details__message_id=message_id,
        )
        .annotate(link=KeyTextTransform("link_id", "details"))
        .values("link")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {int(row["link"]): row["n"] for row in rows if row["link"] is not None}
