"""What Conductor adds to a contact's activity in words: the conversation
an email was sent in, and the conversations the contact entered and left
(lines of its story that are enrollments, not activity rows). Registered by
``ConductorConfig.ready`` (see ``contacts.activity_words``)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Q

from conductor.models import Conversation, Enrollment, TriggerKind
from contacts.activity_words import (
    Names,
    StoryLine,
    add_aside,
    add_names,
    add_story_lines,
    detail_refs,
    details,
    quote,
)
from contacts.models import Activity, Contact


def in_conversation(activity: Activity, names: Names) -> str | None:
    conversation = names.quoted("conversation", details(activity).get("conversation_id"))
    return f"in conversation {conversation}" if conversation else None


def trigger_words(enrollment: Enrollment) -> str:
    """What brought the contact in, as the conversation's page names it."""
    found = enrollment.trigger_details if isinstance(enrollment.trigger_details, dict) else {}
    if enrollment.trigger_kind == TriggerKind.EXTERNAL_EVENT and found.get("event_name"):
        return f"event {quote(str(found['event_name']))}"
    if enrollment.trigger_kind == TriggerKind.ADDRESS_CHANGE and found.get("old_email"):
        return f"address change from {found['old_email']}"
    if enrollment.trigger_kind in TriggerKind.values:
        return TriggerKind(enrollment.trigger_kind).label.lower()
    return str(enrollment.trigger_kind)


def enrollment_lines(
    contact: Contact, after: datetime.datetime | None, until: datetime.datetime | None
) -> Iterable[StoryLine]:
    """The conversations ``contact`` entered or left after ``after`` and up to ``until``."""

    def within(column: str) -> Q:
        bounds = Q(**{f"{column}__isnull": False})
        if after is not None:
            bounds &= Q(**{f"{column}__gt": after})
        if until is not None:
            bounds &= Q(**{f"{column}__lte": until})
        return bounds

    def inside(moment: datetime.datetime | None) -> bool:
        return (
            moment is not None
            and (after is None or moment > after)
            and (until is None or moment <= until)
        )

    enrollments = Enrollment.objects.filter(
        within("entered_at") | within("finished_at"), contact=contact
    ).select_related("conversation")
    for enrollment in enrollments:
        name = quote(enrollment.conversation.name)
        if inside(enrollment.entered_at):
            yield StoryLine(
                at=enrollment.entered_at,
                text=f"Entered conversation {name} (trigger: {trigger_words(enrollment)})",
            )
        if inside(enrollment.finished_at):
            assert enrollment.finished_at is not None  # inside() says so
            yield StoryLine(at=enrollment.finished_at, text=f"Left conversation {name}")


def register() -> None:
    """Name the conversations activity details refer to, and tell of enrollments."""
    add_names(
        "conversation",
        refs=detail_refs("conversation_id"),
        lookup=lambda ids: dict(Conversation.objects.filter(pk__in=ids).values_list("pk", "name")),
    )
    add_aside("conversation", in_conversation)
    add_story_lines("conversations", permission="conductor.view_enrollment", lines=enrollment_lines)
