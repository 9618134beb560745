"""Writing the outbox: contact activity becomes Segment messages, in the
transaction that recorded it (``contacts.hooks.activities_recorded``).

The receiver is set-based: for a batch of up to 10,000 activities it reads the
synced lists, the activities with their contacts, and (only when needed) the
old contacts of address changes and the emails' subjects and campaigns, then
inserts every message at once. A message it cannot write (over 32 KB) raises
ValidationError, which rolls the whole change back.

What each activity kind sends (SPEC section 6):

- ``subscribed``, ``resubscribed``: identify, list trait ``true``;
- ``unsubscribed``: identify with the list trait ``null``, then track
  ``Unsubscribed`` (``unsubscribe_type`` = the method). An unsubscribe with
  method ``Address Change`` sends nothing: the ``address_changed`` activity of
  the new contact, recorded in the same change, speaks for both addresses;
- ``profile_updated``: identify, the trait as the contact's state is now;
- ``address_changed``: identify of the old address (its contact's userId, trait
  ``null``), then of the new one (trait ``true``);
- ``email_*``: the track events of ``payloads.TRACK_EVENTS``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.dispatch import receiver

from broadcasts.models import Broadcast, TransactionalMessage
from conductor.models import Conversation
from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState, UnsubscribeMethod
from emails.models import Delivery, Message
from emails.tracking.link_text import TEMPLATE_SYNTAX
from integrations.models import SHARDS, SegmentListSync, SegmentMessage
from integrations.segment import payloads
from integrations.segment.queueing import queue_delivery_on_commit

IDENTIFY_KINDS = {
    ActivityKind.SUBSCRIBED,
    ActivityKind.RESUBSCRIBED,
    ActivityKind.UNSUBSCRIBED,
    ActivityKind.PROFILE_UPDATED,
    ActivityKind.ADDRESS_CHANGED,
}
HANDLED_KINDS = sorted(IDENTIFY_KINDS | set(payloads.TRACK_EVENTS))
EMAIL_KINDS = set(payloads.TRACK_EVENTS) - IDENTIFY_KINDS

#: Rows per INSERT (SQLite allows a limited number of parameters per statement).
INSERT_BATCH = 1000


@dataclass(frozen=True)
class Sync:
    """What the receiver needs of one synced list of one integration."""

    integration_id: int
    list_id: int
    list_name: str
    user_id_key: str | None  # the profile key of the userId field

    def user_id(self, profile: dict[str, Any] | None) -> str | None:
        if self.user_id_key is None or not profile:
            return None
        return profile.get(self.user_id_key) or None


@dataclass(frozen=True)
class Row:
    """One activity, with its contact's state and profile as they are now."""

    contact_id: int
    list_id: int
    email: str
    kind: str
    occurred_at: Any
    details: dict[str, Any]
    state: str
    profile: dict[str, Any]


@receiver(activities_recorded, dispatch_uid="integrations.segment.write_messages")
def write_segment_messages(
    sender: Any,
    activities: QuerySet[Activity],
    list_ids: frozenset[int] | None = None,
    **kwargs: Any,
) -> None:
    """Write the Segment messages of a batch of activities to the outbox."""
    if list_ids is not None and not may_be_synced(list_ids):
        return  # the usual case: no query at all
    syncs = synced_lists(list_ids)
    if not syncs:
        return
    rows = [
        Row(*values)
        for values in activities.filter(list_id__in=list(syncs), kind__in=HANDLED_KINDS)
        .order_by("id")
        .values_list(
            "contact_id",
            "list_id",
            "email",
            "kind",
            "occurred_at",
            "details",
            "contact__state",
            "contact__profile",
        )
    ]
    if rows:
        lock_contacts_of_email_activity(rows)
        write_messages(MessageBuilder(rows).messages(syncs))


def lock_contacts_of_email_activity(rows: list[Row]) -> None:
    """Lock the contacts of email activity (in address order, the model's
    ordering, as the contact services lock theirs).

    Messages are sent in id order, and ids are handed out at insert, not at
    commit: two transactions writing messages of one contact at once could
    commit in the other order and a worker could send the later one first.
    Holding the contact's row lock while writing its messages makes a second
    writer wait for the first to commit, so its messages get the higher ids.
    """
    # The contact services (subscriptions, profiles, addresses) hold these
    # locks already; email activity is recorded without them.
    ids = sorted({row.contact_id for row in rows if row.kind in EMAIL_KINDS})
    if ids and connection.features.has_select_for_update:
        list(Contact.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))


#: ``(valid until, ids of the lists an enabled integration syncs)``, as this
#: process last read them (``may_be_synced``).
_synced_cache: tuple[float, frozenset[int]] | None = None


def may_be_synced(list_ids: Iterable[int]) -> bool:
    """Whether an enabled integration may sync one of these lists, from a
    copy of the synced lists that this process keeps for
    ``SEGMENT_LIST_CACHE_SECONDS``: most writes are to lists nobody syncs,
    and then cost no query.

    The copy is dropped at once when this process changes a sync or an
    integration (``forget_synced_lists``). In another process, a list added to
    an integration is seen within ``SEGMENT_LIST_CACHE_SECONDS``; its backfill
    starts only after that (``backfill``), so no contact's state is missed.
    A list no longer synced is only a query to find out.
    """
    global _synced_cache
    now = time.monotonic()
    cached = _synced_cache
    if cached is None or now >= cached[0]:
        synced = SegmentListSync.objects.filter(integration__enabled=True)
        ids = frozenset(synced.values_list("list_id", flat=True))
        cached = _synced_cache = (now + settings.SEGMENT_LIST_CACHE_SECONDS, ids)
    return not cached[1].isdisjoint(list_ids)


def forget_synced_lists(**kwargs: Any) -> None:
    """Drop this process's copy of the synced lists (a receiver of the sync
    and integration models' save and delete signals)."""
    global _synced_cache
    _synced_cache = None


def synced_lists(list_ids: Iterable[int] | None) -> dict[int, list[Sync]]:
    """The enabled integrations' syncs of these lists (of every list when
    None), by list id: one query."""
    syncs = SegmentListSync.objects.filter(integration__enabled=True)
    if list_ids is not None:
        syncs = syncs.filter(list_id__in=list(list_ids))
    found: dict[int, list[Sync]] = {}
    for integration_id, list_id, list_name, field_id in syncs.values_list(
        "integration_id", "list_id", "list__name", "user_id_field_id"
    ):
        key = None if field_id is None else str(field_id)
        found.setdefault(list_id, []).append(Sync(integration_id, list_id, list_name, key))
    return found


def write_messages(messages: list[SegmentMessage]) -> None:
    """Insert outbox messages, and have them sent once the transaction commits."""
    if not messages:
        return
    SegmentMessage.objects.bulk_create(messages, batch_size=INSERT_BATCH)
    queue_delivery_on_commit()


def new_message(
    *, integration_id: int, contact_id: int, payload: dict[str, Any], contact: str, list_id: int
) -> SegmentMessage:
    """An unsaved outbox message of ``payload`` (whose ``messageId`` it keeps)."""
    return SegmentMessage(
        integration_id=integration_id,
        shard=contact_id % SHARDS,
        contact_id=contact_id,
        message_id=payload["messageId"],
        kind=payload.get("event") or payload["type"],
        payload=payloads.serialize(payload, contact=contact, list_id=list_id),
    )


def new_message_id() -> str:
    return str(uuid.uuid4())


class MessageBuilder:
    """The messages of a batch of activity rows, with what they refer to
    (old contacts of address changes, emails, conversations) read at once."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self.old_contacts = self._old_contacts()
        self.subjects, self.campaigns = self._email_facts()

    def messages(self, syncs: dict[int, list[Sync]]) -> list[SegmentMessage]:
        built: list[SegmentMessage] = []
        for row in self.rows:
            for sync in syncs.get(row.list_id, []):
                for contact_id, email, payload in self._payloads(row, sync):
                    built.append(
                        new_message(
                            integration_id=sync.integration_id,
                            contact_id=contact_id,
                            payload=payload,
                            contact=email,
                            list_id=row.list_id,
                        )
                    )
        return built

    def _payloads(self, row: Row, sync: Sync) -> Iterable[tuple[int, str, dict[str, Any]]]:
        """``(contact id, address, payload)`` of each message of one activity."""
        kind = row.kind
        if kind == ActivityKind.UNSUBSCRIBED and (
            row.details.get("method") == UnsubscribeMethod.ADDRESS_CHANGE
        ):
            return
        if kind == ActivityKind.ADDRESS_CHANGED:
            old = self.old_contacts.get(payloads.as_id(row.details.get("old_contact_id")) or 0)
            old_email = row.details.get("old_email") or (old and old[0])
            if old_email:
                old_id = payloads.as_id(row.details.get("old_contact_id")) or row.contact_id
                profile = old[1] if old else row.profile
                yield old_id, old_email, self._identify(row, sync, old_email, False, profile)
            yield row.contact_id, row.email, self._identify(row, sync, row.email, True)
            return
        if kind in IDENTIFY_KINDS:
            by_kind: dict[str, bool] = {
                ActivityKind.SUBSCRIBED: True,
                ActivityKind.RESUBSCRIBED: True,
                ActivityKind.UNSUBSCRIBED: False,
            }
            subscribed = by_kind.get(kind, row.state == SubscriptionState.SUBSCRIBED)
            yield row.contact_id, row.email, self._identify(row, sync, row.email, subscribed)
        event = payloads.TRACK_EVENTS.get(kind)
        if event is not None:
            yield row.contact_id, row.email, self._track(row, sync, event)

    def _identify(
        self,
        row: Row,
        sync: Sync,
        email: str,
        subscribed: bool,
        profile: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return payloads.identify(
            message_id=new_message_id(),
            email=email,
            list_id=row.list_id,
            subscribed=subscribed,
            user_id=sync.user_id(row.profile if profile is None else profile),
            timestamp=row.occurred_at,
        )

    def _track(self, row: Row, sync: Sync, event: str) -> dict[str, Any]:
        properties = payloads.email_properties(
            row.details,
            list_id=row.list_id,
            list_name=sync.list_name,
            subjects=self.subjects,
            campaigns=self.campaigns,
        )
        if event == "Unsubscribed" and row.details.get("method"):
            properties["unsubscribe_type"] = row.details["method"]
        client = {}
        if event in payloads.WITH_CLIENT_CONTEXT:
            client = payloads.client_context(row.details)
        return payloads.track(
            message_id=new_message_id(),
            email=row.email,
            event=event,
            properties=properties,
            client=client,
            timestamp=row.occurred_at,
        )

    def _old_contacts(self) -> dict[int, tuple[str, dict[str, Any]]]:
        found = (
            payloads.as_id(row.details.get("old_contact_id"))
            for row in self.rows
            if row.kind == ActivityKind.ADDRESS_CHANGED
        )
        ids = {pk for pk in found if pk is not None}
        if not ids:
            return {}
        return {
            pk: (email, profile)
            for pk, email, profile in Contact.objects.filter(pk__in=ids).values_list(
                "pk", "email", "profile"
            )
        }

    def _email_facts(self) -> tuple[dict[str, str], dict[str, str]]:
        """Subjects and conversation names of the deliveries, and of the
        messages and conversations, that the rows' details name (see
        ``payloads.email_properties``)."""
        wanted: dict[str, set[int]] = {"message_id": set(), "delivery_id": set()}
        wanted.update(conversation_id=set(), broadcast_id=set(), transactional_id=set())
        for row in self.rows:
            if row.kind in payloads.TRACK_EVENTS:
                for key, ids in wanted.items():
                    pk = payloads.as_id(row.details.get(key))
                    if pk is not None:
                        ids.add(pk)
        subjects: dict[str, str] = {}
        campaigns: dict[str, str] = {}
        if wanted["delivery_id"]:
            for pk, subject, name in Delivery.objects.filter(
                pk__in=wanted["delivery_id"]
            ).values_list("pk", "subject", "step_run__enrollment__conversation__name"):
                if name:
                    campaigns[f"delivery:{pk}"] = name
                if subject:
                    subjects[f"delivery:{pk}"] = subject
        # Where no delivery gives the subject its contact received (an email
        # sent before deliveries kept it), the message's, if it has no merge field.
        unknown = {
            pk
            for row in self.rows
            if row.kind in payloads.TRACK_EVENTS
            and f"delivery:{payloads.as_id(row.details.get('delivery_id'))}" not in subjects
            and (pk := payloads.as_id(row.details.get("message_id"))) is not None
        }
        if unknown:
            for pk, subject in Message.objects.filter(pk__in=unknown).values_list("pk", "subject"):
                if not any(syntax in subject for syntax in TEMPLATE_SYNTAX):
                    subjects[f"message:{pk}"] = " ".join(subject.split())  # as sending folds it
        if wanted["conversation_id"]:
            for pk, name in Conversation.objects.filter(
                pk__in=wanted["conversation_id"]
            ).values_list("pk", "name"):
                campaigns[f"conversation:{pk}"] = name
        # A broadcast's or transactional message's campaign, else its own name.
        for key, model in (("broadcast_id", Broadcast), ("transactional_id", TransactionalMessage)):
            if wanted[key]:
                rows = model.objects.filter(pk__in=wanted[key]).values_list(
                    "pk", "name", "campaign__name"
                )
                for pk, name, campaign in rows:
                    campaigns[f"{key.removesuffix('_id')}:{pk}"] = campaign or name
        return subjects, campaigns
