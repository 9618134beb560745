"""The one way other apps learn what happened to contacts.

Every service that changes a contact records :class:`~contacts.models.Activity`
rows through :func:`record_activities`. It inserts them in one statement and
then sends :data:`activities_recorded`, **inside the same database
transaction**, with the whole batch::

    from contacts.hooks import activities_recorded

    @receiver(activities_recorded)
    def enter_conversations(sender, activities, **kwargs):
        ...  # set-based work over ``activities`` (a list, ids filled in)

A receiver's exception rolls the change back together with its activity, so
there is never a change that a reacting app missed, nor a reaction to a change
that did not happen. Receivers must therefore be quick and set-based (a few
queries per batch, not per activity) and must defer slow work (sending mail,
HTTP) with ``transaction.on_commit`` or an outbox table. Connect receivers in
the reacting app's ``AppConfig.ready``; ``lists`` and ``contacts`` import
neither ``conductor`` nor ``integrations``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.dispatch import Signal

from contacts.models import Activity

#: Sent with ``activities=list[Activity]`` after they are inserted, in the
#: inserting transaction. ``sender`` is the Activity model.
activities_recorded = Signal()

BATCH_SIZE = 2000


def record_activities(activities: Sequence[Activity]) -> list[Activity]:
    """Insert ``activities`` and notify the receivers, atomically, in batches."""
    saved: list[Activity] = []
    with transaction.atomic():
        for start in range(0, len(activities), BATCH_SIZE):
            batch = Activity.objects.bulk_create(activities[start : start + BATCH_SIZE])
            activities_recorded.send(sender=Activity, activities=batch)
            saved.extend(batch)
    return saved
