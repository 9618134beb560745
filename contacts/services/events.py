"""Firing a list's external events for contacts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Contact
from contacts.services.common import activity_for
from lists.models import Event


def fire_events(
    *, event: Event, contacts: Sequence[Contact], data: Mapping[str, object] | None = None
) -> list[Activity]:
    """Record ``event`` for each contact, which lets Conductor enter them into
    conversations it triggers. A blocked event does nothing and returns [].
    ``data`` (an order total, a product…) must be JSON-serialisable."""
    strangers = [c.email for c in contacts if c.list_id != event.list_id]
    if strangers:
        raise ValidationError(
            "Event '%(event)s' belongs to another list than %(emails)s.",
            code="ERROR_INVALID_PARAMETER",
            params={"event": event.name, "emails": ", ".join(strangers[:5])},
        )
    payload = json.loads(json.dumps(dict(data or {}), cls=DjangoJSONEncoder))
    if not event.is_active:
        return []
    now = timezone.now()
    return record_activities(
        [
            activity_for(
                c,
                ActivityKind.EVENT_FIRED,
                now,
                event_id=event.pk,
                event_name=event.name,
                data=payload,
            )
            for c in contacts
        ]
    )


def fire_event(
    *, event: Event, contact: Contact, data: Mapping[str, object] | None = None
) -> Activity | None:
    """Fire one event for one contact; None when the event is blocked."""
    fired = fire_events(event=event, contacts=[contact], data=data)
    return fired[0] if fired else None
