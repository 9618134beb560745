"""The one way other apps learn what happened to contacts.

Every service that changes a contact records :class:`~contacts.models.Activity`
rows through :func:`record_activities` (imports insert theirs with SQL and call
:func:`announce_activities`). Either sends :data:`activities_recorded`,
**inside the same database transaction**, once per batch of up to
``BATCH_SIZE`` activities::

    from contacts.hooks import activities_recorded

    @receiver(activities_recorded)
    def enter_conversations(sender, activities, **kwargs):
        # ``activities`` is a QuerySet of the batch's rows, already inserted:
        # use it in set-based SQL (``contact__in=activities.values("contact")``),
        # or iterate it when the work is per activity.
        ...

A receiver's exception rolls the change back together with its activity, so
there is never a change that a reacting app missed, nor a reaction to a change
that did not happen. With the batch come ``list_ids`` and ``kinds``: the lists it
touches and its activities' kinds, when known without a query (``None``
otherwise); a receiver with nothing to do for them returns at once. Receivers
must therefore be quick and set-based (a few
queries per batch, not per activity) and must defer slow work (sending mail,
HTTP) with ``transaction.on_commit`` or an outbox table. Connect receivers in
the reacting app's ``AppConfig.ready``; ``lists`` and ``contacts`` import
neither ``conductor`` nor ``integrations``.

The hook is two-phase, so that no receiver depends on the order of
``INSTALLED_APPS``. A receiver that derives activities of its own from a batch
(a purchase after a click converts an email) does not record them: it
*returns* them, unsaved (a list of ``Activity``, built with
``contacts.services.email_activity``, or ``None`` for nothing)::

    @receiver(activities_recorded)
    def record_conversions(sender, activities, **kwargs) -> list[Activity]:
        return [email_activity(kind=ActivityKind.EMAIL_CONVERTED, ...) for ...]

1. every receiver sees the batch;
2. then, before the next batch, the activities they returned are recorded
   together, with :func:`record_activities`: a batch of their own through
   this same hook, which every receiver sees too (whatever the app order)
   and may derive from in turn.

Both phases run in the one transaction: a failure anywhere rolls back the
change, its activities and every derived one. Derived activities are not in
what :func:`record_activities` returns. A receiver must not call
:func:`record_activities` itself: the receivers after it would see the
derived batch before the batch that caused it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.dispatch import Signal

from contacts.models import Activity
from core.bulk import create_rows, json_ids

#: Sent with ``activities=QuerySet[Activity]`` (one batch, already inserted)
#: in the inserting transaction. ``sender`` is the Activity model. A receiver
#: returns the activities it derives (unsaved), or None.
activities_recorded = Signal()

BATCH_SIZE = 10_000
#: Up to this many ids, a batch's activities are named by a plain ``IN`` list.
FEW_IDS = 100


def record_activities(activities: Sequence[Activity]) -> list[Activity]:
    """Insert ``activities`` and notify the receivers, atomically, in batches,
    each followed by what the receivers derived from it (two phases, above).
    Returns ``activities``, saved; not the derived ones."""
    saved: list[Activity] = []
    # No savepoint: inside a caller's transaction a failure undoes that whole
    # transaction anyway, and a savepoint is two more round trips per call.
    with transaction.atomic(savepoint=False):
        for start in range(0, len(activities), BATCH_SIZE):
            batch = create_rows(activities[start : start + BATCH_SIZE])
            times = [a.occurred_at for a in batch]
            _send(
                [a.pk for a in batch],
                list_ids=frozenset(a.list_id for a in batch),
                kinds=frozenset(a.kind for a in batch),
                occurred=(min(times), max(times)),
            )
            saved.extend(batch)
    return saved


def announce_activities(
    ids: Iterable[int],
    *,
    list_ids: frozenset[int] | None = None,
    kinds: frozenset[str] | None = None,
) -> None:
    """Notify the receivers of activities inserted by other means (set-based
    imports), in batches, and record what they derive from each (two phases,
    above). Must run in the transaction that inserted them.

    ``list_ids`` and ``kinds``, when given, must include every list and kind of
    those activities: receivers skip their queries for the others (a million
    rows of an import are a hundred batches, each otherwise asked once per
    receiver what it holds)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("announce_activities must run inside the inserting transaction")
    batch: list[int] = []
    for activity_id in ids:
        batch.append(activity_id)
        if len(batch) == BATCH_SIZE:
            _send(batch, list_ids, kinds)
            batch = []
    if batch:
        _send(batch, list_ids, kinds)


def _send(
    ids: list[int],
    list_ids: frozenset[int] | None = None,
    kinds: frozenset[str] | None = None,
    occurred: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> None:
    # ``list_ids`` and ``kinds``: the lists the batch touches and the kinds of
    # its activities, when known without a query (None otherwise). A receiver
    # with nothing to do for those can return without a query. ``occurred``:
    # the earliest and latest of their times, when known: on PostgreSQL, where
    # the log is partitioned by month, the receivers' queries then read only
    # those months, not every month's index.
    # A few ids (one API call's activities) as a plain list: the planner then
    # knows how many rows it looks up and takes them by primary key. As one
    # JSON parameter (a big batch) it guesses a hundred, and on a small or
    # fresh table reads every row instead.
    few = len(ids) <= FEW_IDS
    activities = Activity.objects.filter(pk__in=ids if few else json_ids(ids))
    if occurred is not None:
        activities = activities.filter(occurred_at__range=occurred)
    answers = activities_recorded.send(
        sender=Activity,
        activities=activities,
        list_ids=list_ids,
        kinds=kinds,
    )
    derived = [activity for receiver, answer in answers for activity in _derived(receiver, answer)]
    if derived:
        # Phase two: every receiver has seen the batch; what they derived is
        # a batch of its own, which they all see in turn.
        record_activities(derived)


def _derived(receiver: object, answer: object) -> list[Activity]:
    """The unsaved activities a receiver returned (None: none)."""
    if answer is None:
        return []
    if isinstance(answer, list | tuple) and all(
        isinstance(activity, Activity) and activity.pk is None for activity in answer
    ):
        return list(answer)
    raise TypeError(
        f"{receiver!r} returned {answer!r}: a receiver of activities_recorded "
        "returns the activities it derives, unsaved, or None"
    )
