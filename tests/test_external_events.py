"""External events: recorded per contact; a blocked event does nothing."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Activity, ActivityKind
from contacts.services import fire_event, fire_events
from lists.models import EventStatus
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_firing_an_event_records_it_with_its_data():
    event = EventFactory(name="Cart Abandoned")
    contact = ContactFactory(list=event.list)
    activity = fire_event(
        event=event,
        contact=contact,
        data={"total": Decimal("19.99"), "at": datetime.date(2025, 1, 2)},
    )
    assert activity.pk is not None
    assert activity.kind == ActivityKind.EVENT_FIRED
    assert activity.details == {
        "event_id": event.pk,
        "event_name": "Cart Abandoned",
        "data": {"total": "19.99", "at": "2025-01-02"},
    }


def test_a_blocked_event_does_nothing():
    event = EventFactory(status=EventStatus.BLOCKED)
    contact = ContactFactory(list=event.list)
    assert fire_event(event=event, contact=contact) is None
    assert not Activity.objects.exists()


def test_an_event_of_another_list_is_refused():
    event = EventFactory(name="Purchase")
    stranger = ContactFactory(email="s@example.com")
    with pytest.raises(
        ValidationError, match="'Purchase' belongs to another list than s@example.com"
    ):
        fire_event(event=event, contact=stranger)
    assert not Activity.objects.exists()


def test_the_batch_form_records_every_contact_in_bulk(django_assert_max_num_queries):
    event = EventFactory()
    contacts = ContactFactory.create_batch(500, list=event.list)
    with django_assert_max_num_queries(8):
        fired = fire_events(event=event, contacts=contacts)
    assert len(fired) == 500
    assert Activity.objects.filter(kind=ActivityKind.EVENT_FIRED).count() == 500


def test_data_that_is_not_json_is_refused():
    event = EventFactory()
    with pytest.raises(TypeError):
        fire_event(event=event, contact=ContactFactory(list=event.list), data={"x": object()})
