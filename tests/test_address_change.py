"""Changing a contact's address (SPEC section 2, Listrak's error codes)."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import ActivityKind, Ban, Contact, SubscriptionState, Suppression
from contacts.services import Outcome, change_address, change_addresses, unsubscribe_contact
from tests.factories import ContactFactory, ListFactory

pytestmark = pytest.mark.django_db


def test_the_old_address_is_unsubscribed_and_the_new_one_carries_the_profile():
    old = ContactFactory(email="old@example.com", profile={"1": "Ada"}, external_contact_id="C-1")
    new = change_address(contact=old, new_email="New@Example.com")
    assert old.state == SubscriptionState.UNSUBSCRIBED
    assert old.unsubscribe_method == "Address Change"
    assert new.email == "new@example.com"
    assert new.list_id == old.list_id
    assert new.state == SubscriptionState.SUBSCRIBED
    assert new.subscribe_method == "Address Change"
    assert new.profile == {"1": "Ada"}
    assert new.external_contact_id == "C-1"
    assert new.email_key != old.email_key
    assert list(old.activities.values_list("kind", "details")) == [
        (ActivityKind.UNSUBSCRIBED, {"method": "Address Change"})
    ]
    activity = new.activities.get()
    assert activity.kind == ActivityKind.ADDRESS_CHANGED
    assert activity.details == {"old_email": "old@example.com", "old_contact_id": old.pk}


@pytest.mark.parametrize(
    ("existing_state", "code"),
    [
        (SubscriptionState.SUBSCRIBED, "ERROR_SUBSCRIBED_NEW_EMAIL_ADDRESS"),
        (SubscriptionState.UNSUBSCRIBED, "ERROR_UNSUBSCRIBED_NEW_EMAIL_ADDRESS"),
        (SubscriptionState.PENDING, "ERROR_PENDING_NEW_EMAIL_ADDRESS"),
    ],
)
def test_a_new_address_already_on_the_list_is_refused(existing_state, code):
    old = ContactFactory(email="old@example.com")
    ContactFactory(
        list=old.list,
        email="taken@example.com",
        state=existing_state,
        unsubscribed_at="2024-01-01T00:00Z",
    )
    with pytest.raises(ValidationError) as raised:
        change_address(contact=old, new_email="taken@example.com")
    assert raised.value.code == code
    assert "taken@example.com" in raised.value.messages[0]
    old.refresh_from_db()
    assert old.state == SubscriptionState.SUBSCRIBED
    assert not old.activities.exists()


def test_a_banned_or_suppressed_new_address_is_refused():
    old = ContactFactory()
    Ban.objects.create(list=old.list, email="banned@example.com")
    Suppression.objects.create(email="quiet@example.com")
    with pytest.raises(ValidationError) as banned:
        change_address(contact=old, new_email="banned@example.com")
    assert banned.value.code == "ERROR_BANNED_NEW_EMAIL_ADDRESS"
    with pytest.raises(ValidationError) as suppressed:
        change_address(contact=old, new_email="quiet@example.com")
    assert suppressed.value.code == "ERROR_SUPPRESSED_NEW_EMAIL"
    assert Contact.objects.count() == 1


def test_an_unsubscribed_contact_cannot_change_address():
    old = ContactFactory(email="gone@example.com")
    unsubscribe_contact(contact=old, method="Admin")
    with pytest.raises(ValidationError) as raised:
        change_address(contact=old, new_email="new@example.com")
    assert raised.value.code == "ERROR_CHANGE_ADDRESS_CONTACT_UNSUBSCRIBED"
    assert raised.value.messages == [
        "gone@example.com is not subscribed, so its address cannot be changed."
    ]


@pytest.mark.parametrize("new_email", ["nonsense", "OLD@example.com"])
def test_an_invalid_or_unchanged_new_address_is_refused(new_email):
    old = ContactFactory(email="old@example.com")
    with pytest.raises(ValidationError):
        change_address(contact=old, new_email=new_email)
    assert Contact.objects.count() == 1
    assert not old.activities.exists()


def test_the_batch_form_changes_many_and_refuses_per_pair():
    email_list = ListFactory()
    contacts = ContactFactory.create_batch(50, list=email_list)
    pairs = [(c, f"moved-{c.email}") for c in contacts]
    pairs.append((contacts[1], pairs[0][1]))  # a second contact asking for the same new address
    results = change_addresses(email_list=email_list, changes=pairs)
    assert [r.outcome for r in results[:50]] == [Outcome.ADDRESS_CHANGED] * 50
    assert results[50].error.messages[0].endswith("is the new address of two contacts.")
    assert Contact.objects.filter(list=email_list, state=SubscriptionState.SUBSCRIBED).count() == 50
    assert (
        Contact.objects.filter(list=email_list, state=SubscriptionState.UNSUBSCRIBED).count() == 50
    )
