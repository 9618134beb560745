"""A signup that awaits confirmation fires its point's event when the contact
confirms (double opt-in), through the activity hook's second phase."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Activity, ActivityKind
from contacts.services.common import activity_for
from signups.models import Signup


def fire_confirmed_signups(
    sender: Any,
    activities: QuerySet[Activity],
    kinds: frozenset[str] | None = None,
    **kwargs: Any,
) -> list[Activity] | None:
    """For contacts subscribed in this batch that have signups awaiting
    confirmation: those signups' events, as derived activities. A partial
    index holds only the awaiting signups, so an import's batches cost one
    cheap query each."""
    if kinds is not None and ActivityKind.SUBSCRIBED not in kinds:
        return None
    subscribed = activities.filter(kind=ActivityKind.SUBSCRIBED).values("contact_id")
    # Almost always none: asked first in the simplest form (no joins, no
    # ordering), since every API subscribe asks it.
    waiting_ids = list(
        Signup.objects.filter(event_pending=True, contact_id__in=subscribed)
        .order_by()
        .values_list("pk", flat=True)
    )
    if not waiting_ids:
        return None
    waiting = list(
        Signup.objects.filter(pk__in=waiting_ids).select_related("contact", "point__event")
    )
    Signup.objects.filter(pk__in=[s.pk for s in waiting]).update(event_pending=False)
    now = timezone.now()
    fired = []
    seen: set[tuple[int | None, int]] = set()
    for signup in waiting:
        event = signup.point.event
        if event is None or not event.is_active or signup.contact is None:
            continue
        # A person who sent the form again while waiting for the email confirms
        # once: the point's event fires once, not once per post.
        if (signup.contact_id, signup.point_id) in seen:
            continue
        seen.add((signup.contact_id, signup.point_id))
        fired.append(
            activity_for(
                signup.contact,
                ActivityKind.EVENT_FIRED,
                now,
                event_id=event.pk,
                event_name=event.name,
                data={"subscription_point": signup.point.name},
            )
        )
    return fired
