"""What the reports of a conversation's message and of a broadcast (the
list's ``Message``) share: Listrak's ``Message``, ``MessageSummary``,
``MessageLink``, ``MessageActivity`` and ``MessageLinkClicker`` shapes, and
the rows built from the figures, deliveries and clicks each app reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers

from api.errors import invalid
from conductor.reports import Summary
from contacts.models import Activity, ActivityKind
from emails.models import Delivery, MessageLink

#: ``startDate`` and ``endDate`` of a report: dates or date-times, in the list's time zone.
DATES = [OpenApiParameter("startDate", str), OpenApiParameter("endDate", str)]
#: ``activityType`` → the activity kind a contact must have for its row to be listed.
ACTIVITY_TYPES = {
    "open": ActivityKind.EMAIL_OPENED,
    "click": ActivityKind.EMAIL_CLICKED,
    "bounce": ActivityKind.EMAIL_BOUNCED,
    "abuse": ActivityKind.EMAIL_SPAM,
    "unsubscribe": ActivityKind.UNSUBSCRIBED,
    "conversion": ActivityKind.EMAIL_CONVERTED,
}
ACTIVITY_TYPE = OpenApiParameter(
    "activityType", str, enum=sorted(t.title() for t in ACTIVITY_TYPES)
)


@extend_schema_serializer(component_name="Message")
class MessageSerializer(serializers.Serializer):
    messageId = serializers.IntegerField()
    sendDate = serializers.DateTimeField(allow_null=True)
    messageStatus = serializers.CharField()
    campaignId = serializers.IntegerField(allow_null=True)
    externalCampaignId = serializers.CharField(allow_null=True)
    subject = serializers.CharField()


class SummaryFields(serializers.Serializer):
    averageOrderValue = serializers.FloatField()
    bounceCount = serializers.IntegerField()
    clickCount = serializers.IntegerField()
    conversionCount = serializers.IntegerField()
    openCount = serializers.IntegerField()
    readCount = serializers.IntegerField()
    revenue = serializers.FloatField()
    sentCount = serializers.IntegerField()
    unsubscribeCount = serializers.IntegerField()
    visitCount = serializers.IntegerField()


@extend_schema_serializer(component_name="MessageSummary")
class MessageSummarySerializer(SummaryFields):
    passAlongCount = serializers.IntegerField()


@extend_schema_serializer(component_name="MessageLink")
class MessageLinkSerializer(serializers.Serializer):
    linkId = serializers.IntegerField()
    linkDescription = serializers.CharField()
    linkUrl = serializers.CharField()
    clickCount = serializers.IntegerField()


@extend_schema_serializer(component_name="MessageActivity")
class MessageActivitySerializer(serializers.Serializer):
    abuse = serializers.BooleanField()
    activityDate = serializers.DateTimeField(allow_null=True)
    bounce = serializers.BooleanField()
    bounceReason = serializers.CharField()
    click = serializers.BooleanField()
    clickCount = serializers.IntegerField()
    emailAddress = serializers.EmailField()
    open = serializers.BooleanField()
    orderTotal = serializers.FloatField()
    read = serializers.BooleanField()
    sendDate = serializers.DateTimeField(allow_null=True)
    unsubscribe = serializers.BooleanField()
    visitDate = serializers.DateTimeField(allow_null=True)
    externalContactID = serializers.CharField()


@extend_schema_serializer(component_name="MessageLinkClicker")
class MessageLinkClickerSerializer(serializers.Serializer):
    emailAddress = serializers.EmailField()
    clickDate = serializers.DateTimeField()


def summary_data(summary: Summary) -> dict[str, Any]:
    """The figures every summary shape has."""
    # Listrak's "read" (opened for a while) and "visit" (site visits) are not
    # measured here: reported as 0 rather than invented.
    return {
        "averageOrderValue": summary.average_order_value,
        "bounceCount": summary.bounced,
        "clickCount": summary.clicked,
        "conversionCount": summary.converted,
        "openCount": summary.opened,
        "readCount": 0,
        "revenue": summary.revenue,
        "sentCount": summary.sent,
        "unsubscribeCount": summary.unsubscribed,
        "visitCount": 0,
    }


def message_summary_data(summary: Summary) -> dict[str, Any]:
    """A ``MessageSummary``: pass-alongs are not counted here, so 0."""
    return {**summary_data(summary), "passAlongCount": 0}


def link_data(link: MessageLink, clicks: Mapping[int, int]) -> dict[str, Any]:
    """A ``MessageLink``, with its clicks from ``{link id: clicks}``."""
    return {
        "linkId": link.pk,
        "linkDescription": "",
        "linkUrl": link.url,
        "clickCount": clicks.get(link.pk, 0),
    }


def activity_kind(params: Any) -> str | None:
    """The activity kind ``activityType`` names; None when it is absent."""
    kind = (params.get("activityType") or "").strip().lower()
    if not kind:
        return None
    if kind not in ACTIVITY_TYPES:
        names = ", ".join(sorted(t.title() for t in ACTIVITY_TYPES))
        raise invalid("activityType", f"activityType is one of {names}.")
    return ACTIVITY_TYPES[kind]


def activity_rows(
    deliveries: Iterable[Delivery], by_delivery: Mapping[int, list[Activity]]
) -> list[dict[str, Any]]:
    """One ``MessageActivity`` per delivery (its contact selected), from
    ``{delivery id: its email's activity, oldest first}``."""
    rows = []
    for delivery in deliveries:
        activity = by_delivery.get(delivery.pk, [])
        kinds: dict[str, list[Activity]] = defaultdict(list)
        for row in activity:
            kinds[row.kind].append(row)
        bounces = kinds[ActivityKind.EMAIL_BOUNCED]
        seen = [a for a in activity if a.kind != ActivityKind.EMAIL_CONVERTED]
        rows.append(
            {
                "abuse": bool(kinds[ActivityKind.EMAIL_SPAM]),
                "activityDate": seen[0].occurred_at if seen else None,
                "bounce": bool(bounces),
                "bounceReason": bounces[-1].details.get("reason", "") if bounces else "",
                "click": bool(kinds[ActivityKind.EMAIL_CLICKED]),
                "clickCount": len(kinds[ActivityKind.EMAIL_CLICKED]),
                "emailAddress": delivery.contact.email,
                "open": bool(kinds[ActivityKind.EMAIL_OPENED]),
                "orderTotal": _order_total(kinds[ActivityKind.EMAIL_CONVERTED]),
                "read": False,  # not measured here
                "sendDate": delivery.sent_at,
                "unsubscribe": bool(kinds[ActivityKind.UNSUBSCRIBED]),
                "visitDate": None,
                "externalContactID": "",
            }
        )
    return rows


def _order_total(conversions: list[Activity]) -> float:
    return round(sum(float(a.details.get("order_total") or 0) for a in conversions), 2)


def clicker_rows(clicks: Iterable[Activity]) -> list[dict[str, Any]]:
    """One ``MessageLinkClicker`` per click."""
    return [{"emailAddress": click.email, "clickDate": click.occurred_at} for click in clicks]
