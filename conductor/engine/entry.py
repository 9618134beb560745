"""Triggers: recorded activity enters contacts into published conversations,
in bulk, in the transaction that recorded it (``contacts.hooks``).

Only Published conversations take contacts: a paused or closed one takes
none (``conductor.status``), and its triggers are not counted as ignored on
the contacts inside it either: they were not turned away for being inside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from conductor.engine.tasks import queue_run
from conductor.models import (
    INSIDE,
    Conversation,
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    Thread,
    Trigger,
    TriggerKind,
    Version,
)
from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind

#: The activity that fires each trigger kind.
KIND_OF: dict[str, TriggerKind] = {
    ActivityKind.SUBSCRIBED: TriggerKind.SUBSCRIBE,  # first-ever only: resubscribes differ
    ActivityKind.EVENT_FIRED: TriggerKind.EXTERNAL_EVENT,
    ActivityKind.PROFILE_UPDATED: TriggerKind.SEGMENT_UPDATE,
    ActivityKind.ADDRESS_CHANGED: TriggerKind.ADDRESS_CHANGE,
}


@receiver(activities_recorded, dispatch_uid="conductor.enter_conversations")
def enter_conversations(
    sender: Any,
    activities: QuerySet[Activity],
    list_ids: frozenset[int] | None = None,
    kinds: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    if kinds is not None and kinds.isdisjoint(KIND_OF):
        return  # emails sent, opens, clicks: no trigger starts on them
    relevant = activities.filter(kind__in=list(KIND_OF))
    if not _any_published_trigger(relevant, list_ids):
        return
    triggers = list(
        Trigger.objects.filter(
            conversation__list_id__in=relevant.values("list_id"),
            conversation__status=ConversationStatus.PUBLISHED,
        ).select_related("conversation")
    )
    # Only the activities some published trigger starts on are read back: a
    # conversation's own profile writes, when no conversation starts on a
    # profile update, are a thousand rows of changes read for nothing.
    started_by = {trigger.kind for trigger in triggers}
    firing = [kind for kind, trigger_kind in KIND_OF.items() if trigger_kind in started_by]
    if kinds is not None and kinds.isdisjoint(firing):
        return
    rows = list(
        activities.filter(_firing(firing, triggers)).values_list(
            "contact_id", "list_id", "kind", "details"
        )
    )
    entered = enroll(rows, triggers)
    if entered:
        transaction.on_commit(queue_run)


def _firing(firing: list[str], triggers: list[Trigger]) -> Q:
    """The activities of ``firing`` kinds, and of fired events only those
    some trigger starts on (a conversation firing "Order shipped" for a
    thousand contacts is a thousand events no trigger may want)."""
    others = Q(kind__in=[kind for kind in firing if kind != ActivityKind.EVENT_FIRED])
    if ActivityKind.EVENT_FIRED not in firing:
        return others
    # Only external-event triggers name an event, and always (a constraint).
    events = sorted({t.event_id for t in triggers if t.event_id is not None})
    return others | Q(kind=ActivityKind.EVENT_FIRED, details__event_id__in=events)


def _any_published_trigger(relevant: QuerySet[Activity], list_ids: frozenset[int] | None) -> bool:
    """Whether any of these activities' lists has a published conversation
    with a trigger. Every write asks (each API post, each import batch) and
    most lists have none: one plain EXISTS, without building ORM joins."""
    params: Sequence[object]
    if list_ids is not None:
        lists_sql, params = ", ".join(["%s"] * len(list_ids)), list(list_ids)
    else:
        lists_sql, params = relevant.values("list_id").query.sql_with_params()
    if not params and list_ids is not None:
        return False
    quote = connection.ops.quote_name
    trigger, conversation = Trigger._meta.db_table, Conversation._meta.db_table
    sql = (
        f"SELECT EXISTS (SELECT 1 FROM {quote(trigger)} t"
        f" JOIN {quote(conversation)} c ON c.id = t.conversation_id"
        f" WHERE c.status = %s AND c.list_id IN ({lists_sql}))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ConversationStatus.PUBLISHED, *params])
        return bool(cursor.fetchone()[0])


def enroll(rows: list[tuple[int, int, str, dict]], triggers: list[Trigger]) -> int:
    """Enter each activity's contact into the conversations its trigger
    starts; a contact already inside is left where it is. Returns how many
    enrollments were attempted."""
    versions = _entry_versions({t.conversation_id for t in triggers})
    by_key: dict[tuple[int, str, int | None], list[Trigger]] = {}
    for trigger in triggers:
        key = (trigger.conversation.list_id, trigger.kind, trigger.event_id)
        by_key.setdefault(key, []).append(trigger)
    now = timezone.now()
    wanted: dict[tuple[int, int], Enrollment] = {}
    leaving: list[tuple[int, int]] = []  # (conversation, old contact) of address changes
    for contact_id, list_id, activity_kind, details in rows:
        kind = KIND_OF[activity_kind]
        event_id = details.get("event_id") if kind == TriggerKind.EXTERNAL_EVENT else None
        for trigger in by_key.get((list_id, kind, event_id), []):
            entry = versions.get(trigger.conversation_id)
            if entry is None or (trigger.conversation_id, contact_id) in wanted:
                continue
            if kind == TriggerKind.ADDRESS_CHANGE and details.get("old_contact_id"):
                leaving.append((trigger.conversation_id, details["old_contact_id"]))
            version, thread = entry
            wanted[(trigger.conversation_id, contact_id)] = Enrollment(
                conversation_id=trigger.conversation_id,
                version=version,
                contact_id=contact_id,
                trigger=trigger,
                trigger_kind=kind,
                trigger_details=_details(kind, details),
                thread=thread,
                step=None,  # the runner enters the first step
                due_at=now,
                step_entered_at=now,
                entered_at=now,
            )
    for conversation_id, old_contact in leaving:
        Enrollment.objects.filter(
            INSIDE, conversation_id=conversation_id, contact_id=old_contact
        ).update(state=EnrollmentState.FINISHED, finished_at=now, due_at=None, held_reason="")
    # The partial unique index refuses a second enrollment of a contact
    # already inside: that trigger is ignored, as SPEC section 4 says, and
    # counted on the enrollment that is inside.
    Enrollment.objects.bulk_create(list(wanted.values()), ignore_conflicts=True)
    for conversation_id, contacts in _by_conversation(wanted).items():
        Enrollment.objects.filter(
            INSIDE, conversation_id=conversation_id, contact_id__in=contacts, entered_at__lt=now
        ).update(ignored_triggers=F("ignored_triggers") + 1)
    return len(wanted)


def _by_conversation(wanted: dict[tuple[int, int], Enrollment]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for conversation_id, contact_id in wanted:
        grouped.setdefault(conversation_id, []).append(contact_id)
    return grouped


def _entry_versions(conversation_ids: set[int]) -> dict[int, tuple[Version, Thread]]:
    """The latest published version of each conversation, with its main thread."""
    latest: dict[int, Version] = {}
    for version in Version.objects.filter(
        conversation_id__in=conversation_ids, published_at__isnull=False
    ).order_by("conversation_id", "-number"):
        latest.setdefault(version.conversation_id, version)
    threads = {
        t.version_id: t for t in Thread.objects.filter(version__in=latest.values(), is_main=True)
    }
    return {c: (v, threads[v.pk]) for c, v in latest.items() if v.pk in threads}


def _details(kind: str, details: dict) -> dict:
    if kind == TriggerKind.EXTERNAL_EVENT:
        return {
            "event_id": details.get("event_id"),
            "event_name": details.get("event_name"),
            "data": details.get("data", {}),
        }
    if kind == TriggerKind.ADDRESS_CHANGE:
        return {"old_email": details.get("old_email")}
    return {}
