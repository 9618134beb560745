"""The database itself holds the invariants, whatever code writes to it."""

import pytest
from django.db import IntegrityError, transaction

from contacts.models import Ban, Contact, SubscriptionState
from lists.models import ProfileField
from tests.factories import (
    ContactFactory,
    ListFactory,
    ProfileFieldFactory,
    ProfileFieldGroupFactory,
)

pytestmark = pytest.mark.django_db


def refused(**fields) -> bool:
    try:
        with transaction.atomic():
            Contact.objects.create(**fields)
    except IntegrityError:
        return True
    return False


def test_one_contact_per_list_and_address():
    contact = ContactFactory(email="a@example.com")
    assert refused(list=contact.list, email="a@example.com", subscribed_at=contact.subscribed_at)


def test_addresses_are_stored_normalised():
    email_list = ListFactory()
    assert refused(list=email_list, email="Upper@Example.com", subscribed_at="2024-01-01T00:00Z")


def test_a_subscribed_contact_has_a_subscribe_date_and_an_unsubscribed_one_its_date():
    email_list = ListFactory()
    assert refused(list=email_list, email="a@example.com", state=SubscriptionState.SUBSCRIBED)
    assert refused(
        list=email_list,
        email="b@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        subscribed_at="2024-01-01T00:00Z",
    )
    assert refused(
        list=email_list, email="c@example.com", state="Maybe", subscribed_at="2024-01-01T00:00Z"
    )


def test_profile_field_names_are_unique_per_list_in_any_case():
    field = ProfileFieldFactory(name="Birthday")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProfileField.objects.create(group=field.group, name="BIRTHDAY")
    ProfileFieldFactory(name="Birthday")  # another list: fine


def test_a_field_cannot_sit_in_a_group_of_another_list():
    group = ProfileFieldGroupFactory()
    with pytest.raises(Exception, match="another list"):
        ProfileField.objects.create(group=group, list=ListFactory(), name="X")


def test_one_ban_per_list_and_address():
    email_list = ListFactory()
    Ban.objects.create(list=email_list, email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Ban.objects.create(list=email_list, email="a@example.com")
