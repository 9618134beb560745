"""The filter builder of the Go To step page (and, without engagement, of a
saved audience's, ``broadcasts.admin_library``): criteria as rows a marketer
picks from (field, operator in words, value; or opened / clicked a message
of the list), written as the stored JSON into a hidden form field.

The page gets everything the rows offer in one JSON data island
(``builder_data``): the list's profile fields with their types, the
operators that apply to each type in words (from ``criteria.APPLIES_TO``),
the messages (those the version sends first) with their links, and the URL
counting the contacts the criteria match now. The script is
``conductor/static/conductor/filter_builder.js``; without it, the JSON text
area is the form field, as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django import forms
from django.urls import reverse

from conductor.filters.criteria import (
    APPLIES_TO,
    COMMA_LISTS,
    VALUES_NEEDED,
    C,
    CompareType,
    EngagementKind,
    JoinType,
)
from conductor.filters.engagement import MAX_WITHIN_DAYS
from emails.models import Message, MessageLink
from emails.tracking.links import links_in
from lists.models import DataType, List, ProfileField

#: The operators in the order the builder offers them, in words.
WORDS: dict[CompareType, str] = {
    C.EQUALS: "is",
    C.NOT_EQUALS: "is not",
    C.CONTAINS: "contains",
    C.NOT_CONTAINS: "does not contain",
    C.GREATER_THAN: "is more than",
    C.GREATER_THAN_OR_EQUAL_TO: "is at least",
    C.LESS_THAN: "is less than",
    C.LESS_THAN_OR_EQUAL_TO: "is at most",
    C.BETWEEN: "is between",
    C.NOT_BETWEEN: "is not between",
    C.IN_COMMA_LIST: "is one of",
    C.NOT_IN_COMMA_LIST: "is none of",
    C.CHECKED: "is checked",
    C.NOT_CHECKED: "is not checked",
    C.RADIO_ON: "is on",
    C.RADIO_OFF: "is off",
    C.IS_EMPTY: "is empty",
    C.IS_NOT_EMPTY: "is not empty",
}
#: Dates are compared in time.
DATE_WORDS: dict[CompareType, str] = {
    C.EQUALS: "is on",
    C.NOT_EQUALS: "is not on",
    C.GREATER_THAN: "is after",
    C.GREATER_THAN_OR_EQUAL_TO: "is on or after",
    C.LESS_THAN: "is before",
    C.LESS_THAN_OR_EQUAL_TO: "is on or before",
}
ENGAGEMENT_WORDS: dict[EngagementKind, str] = {
    EngagementKind.OPENED: "opened",
    EngagementKind.NOT_OPENED: "did not open",
    EngagementKind.CLICKED: "clicked",
    EngagementKind.NOT_CLICKED: "did not click",
    EngagementKind.CLICKED_LINK: "clicked the link",
    EngagementKind.NOT_CLICKED_LINK: "did not click the link",
}
JOIN_WORDS: dict[JoinType, str] = {
    JoinType.AND: "and",
    JoinType.OR: "or",
    JoinType.AND_NOT: "and not",
    JoinType.OR_NOT: "or not",
}
#: The value input of each field type (comma lists always take text).
INPUTS = {DataType.NUMERIC: "number", DataType.DATE: "date"}


def operators(data_type: DataType) -> list[dict[str, Any]]:
    """The operators that apply to fields of ``data_type``, in words, with
    how many values each takes and whether it is a comma-separated list."""
    words = {**WORDS, **DATE_WORDS} if data_type == DataType.DATE else WORDS
    return [
        {
            "compare": str(compare),
            "words": words[compare],
            "values": VALUES_NEEDED[compare],
            "comma": compare in COMMA_LISTS,
        }
        for compare in WORDS
        if data_type in APPLIES_TO[compare]
    ]


def _message_links(messages: list[Message]) -> dict[int, list[str]]:
    """Each message's links as written: those in its templates now, in order,
    then those its emails carried before an edit (still clickable)."""
    carried: dict[int, list[str]] = defaultdict(list)
    rows = MessageLink.objects.filter(message__in=messages).order_by("pk")
    for message_id, url in rows.values_list("message_id", "url"):
        carried[message_id].append(url)
    return {
        message.pk: list(dict.fromkeys([*links_in(message), *carried[message.pk]]))
        for message in messages
    }


def builder_data(
    email_list: List,
    *,
    conversation_id: int | None,
    sent_message_ids: Sequence[int] = (),
    count_url: str = "",
) -> dict[str, Any]:
    """What the builder offers for criteria over ``email_list``'s profile
    fields and the emails of conversation ``conversation_id``, whose working
    version sends ``sent_message_ids`` (offered first, in that order).

    Criteria of no conversation (a saved audience's) get no engagement
    conditions, which count a conversation's emails, and their count at
    ``count_url``."""
    fields = ProfileField.objects.filter(list=email_list).order_by("position", "name", "pk")
    engagement = conversation_id is not None
    found = Message.objects.filter(list=email_list).order_by("name", "pk")
    messages = list(found) if engagement else []
    order = {pk: n for n, pk in enumerate(sent_message_ids)}
    messages.sort(key=lambda m: (m.pk not in order, order.get(m.pk, 0)))
    links = _message_links(messages)
    return {
        "list": email_list.name,
        "fields": [
            {
                "id": f.pk,
                "name": f.name,
                "type": f.data_type,
                "typeWords": f.get_data_type_display(),
            }
            for f in fields
        ],
        "operators": {str(t): operators(t) for t in DataType},
        "inputs": {str(t): INPUTS.get(t, "text") for t in DataType},
        "messages": [
            {"id": m.pk, "name": m.name, "sent": m.pk in order, "links": links[m.pk]}
            for m in messages
        ],
        "engagements": [
            {"kind": str(kind), "words": words, "link": kind.takes_link}
            for kind, words in ENGAGEMENT_WORDS.items()
            if engagement
        ],
        "joins": [{"join": str(join), "words": words} for join, words in JOIN_WORDS.items()],
        # Problems name compareTypes and engagements as stored; the rows say them in words.
        "words": {
            **{str(compare): words for compare, words in WORDS.items()},
            **{str(kind): words for kind, words in ENGAGEMENT_WORDS.items()},
        },
        "maxWithinDays": MAX_WITHIN_DAYS,
        "countUrl": count_url
        or reverse("admin:conductor_conversation_criteria_count", args=[conversation_id]),
        "errors": [],
    }


class CriteriaBuilder(forms.Textarea):
    """The criteria's JSON text area, with the rows the builder script draws
    from ``data`` (``builder_data``, plus the form's ``errors`` on the criteria)."""

    template_name = "conductor/widgets/criteria_builder.html"

    class Media:
        js = ["conductor/filter_builder.js"]
        css = {"all": ["conductor/filter_builder.css"]}

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"rows": 12, "cols": 80, "class": "vLargeTextField", **(attrs or {})})
        self.data: dict[str, Any] = {}

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        element_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["widget"]["builder_id"] = f"{element_id}_builder"
        context["widget"]["data_id"] = f"{element_id}_builder_data"
        context["widget"]["data"] = self.data
        return context
