"""Activity rows that other apps record about a contact.

Conductor records what happens to the emails it sends (sent, opened, clicked,
bounced, marked as spam, converted) as contacts' activity; the rows are built
here, so ``contacts`` alone decides what an activity holds.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from contacts.models import Activity


def email_activity(
    *,
    contact_id: int,
    list_id: int,
    email: str,
    kind: str,
    details: dict[str, object],
    occurred_at: datetime.datetime | None = None,
) -> Activity:
    """An unsaved activity ``kind`` of the contact ``contact_id`` of list
    ``list_id`` at the address ``email``, at ``occurred_at`` (now when not
    given), for :func:`contacts.hooks.record_activities` or for a receiver of
    ``activities_recorded`` to return."""
    return Activity(
        contact_id=contact_id,
        list_id=list_id,
        email=email,
        kind=kind,
        occurred_at=timezone.now() if occurred_at is None else occurred_at,
        details=details,
    )
