"""The activity hook: receivers see every batch, inside the same transaction."""

import pytest
from django.db import transaction

from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind, Contact
from contacts.services import subscribe_contact, subscribe_contacts
from tests.factories import ListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    batches = []

    def receiver(sender, activities, **kwargs):
        # Inside the writing transaction, with ids: a receiver can join on them.
        assert transaction.get_connection().in_atomic_block
        # A QuerySet of rows already inserted: usable in set-based SQL.
        assert (
            Contact.objects.filter(pk__in=activities.values("contact")).count()
            == activities.count()
        )
        batches.append(list(activities.order_by("id")))

    activities_recorded.connect(receiver)
    yield batches
    activities_recorded.disconnect(receiver)


def test_receivers_get_the_activities_of_a_batch_at_once(received):
    email_list = ListFactory()
    subscribe_contacts(
        email_list=email_list, emails=[f"p{i}@example.com" for i in range(10)], method="API"
    )
    assert len(received) == 1
    assert [a.kind for a in received[0]] == [ActivityKind.SUBSCRIBED] * 10
    assert {a.contact_id for a in received[0]} == set(Contact.objects.values_list("pk", flat=True))


def test_a_receiver_that_fails_rolls_the_change_back(received):
    def broken(sender, activities, **kwargs):
        raise RuntimeError("segment outbox unavailable")

    activities_recorded.connect(broken)
    try:
        with pytest.raises(RuntimeError):
            subscribe_contact(email_list=ListFactory(), email="a@example.com", method="API")
    finally:
        activities_recorded.disconnect(broken)
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()


def test_nothing_is_sent_when_nothing_happened(received):
    email_list = ListFactory()
    subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    subscribe_contact(email_list=email_list, email="a@example.com", method="API")
    assert len(received) == 1
