"""Subscribing and unsubscribing (SPEC section 2)."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Activity, ActivityKind, Contact, SubscriptionState, universal_email_key
from contacts.services import (
    Outcome,
    subscribe_contact,
    subscribe_contacts,
    unsubscribe_contact,
    unsubscribe_contacts,
)
from tests.factories import ContactFactory, ListFactory

pytestmark = pytest.mark.django_db


def kinds(contact: Contact) -> list[str]:
    return list(contact.activities.order_by("id").values_list("kind", flat=True))


def test_a_new_address_is_a_first_ever_subscription():
    email_list = ListFactory()
    result = subscribe_contact(email_list=email_list, email="  Ada@Example.COM ", method="API")
    assert result.outcome == Outcome.SUBSCRIBED
    contact = Contact.objects.get()
    assert contact.email == "ada@example.com"
    assert contact.universal_email_key == universal_email_key("ada@example.com")
    assert len(contact.email_key) == 32
    assert contact.email_key != Contact(email="x@example.com").email_key
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.subscribed_at is not None
    assert contact.resubscribed_at is None
    assert contact.subscribe_method == "API"
    assert kinds(contact) == [ActivityKind.SUBSCRIBED]
    activity = contact.activities.get()
    assert activity.details == {"method": "API"}
    assert activity.list_id == email_list.pk
    assert activity.email == "ada@example.com"


def test_subscribing_a_subscribed_contact_changes_nothing():
    contact = ContactFactory()
    result = subscribe_contact(email_list=contact.list, email=contact.email.upper(), method="API")
    assert result.outcome == Outcome.ALREADY_SUBSCRIBED
    assert result.contact.pk == contact.pk
    assert not Activity.objects.exists()


def test_an_unsubscribed_contact_is_not_resubscribed_without_override():
    contact = ContactFactory()
    unsubscribe_contact(contact=contact, method="Admin")
    result = subscribe_contact(email_list=contact.list, email=contact.email, method="API")
    assert result.outcome == Outcome.PREVIOUSLY_UNSUBSCRIBED
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert kinds(contact) == [ActivityKind.UNSUBSCRIBED]


def test_override_resubscribes_and_it_is_not_a_first_subscription():
    contact = ContactFactory()
    original = contact.subscribed_at
    unsubscribe_contact(contact=contact, method="Admin")
    result = subscribe_contact(
        email_list=contact.list, email=contact.email, method="Admin", override_unsubscribe=True
    )
    assert result.outcome == Outcome.RESUBSCRIBED
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.subscribed_at == original
    assert contact.resubscribed_at is not None
    assert kinds(contact) == [ActivityKind.UNSUBSCRIBED, ActivityKind.RESUBSCRIBED]


def test_override_on_a_contact_never_subscribed_is_its_first_subscription():
    contact = ContactFactory(
        state=SubscriptionState.UNSUBSCRIBED,
        subscribed_at=None,
        unsubscribed_at="2024-01-01T00:00Z",
    )
    result = subscribe_contact(
        email_list=contact.list, email=contact.email, method="API", override_unsubscribe=True
    )
    assert result.outcome == Outcome.SUBSCRIBED
    assert kinds(contact) == [ActivityKind.SUBSCRIBED]


def test_double_opt_in_creates_a_pending_contact_and_confirming_is_the_first_subscription():
    email_list = ListFactory(double_opt_in=True)
    pending = subscribe_contact(
        email_list=email_list, email="p@example.com", method="API", double_opt_in=True
    )
    assert pending.outcome == Outcome.PENDING
    again = subscribe_contact(
        email_list=email_list, email="p@example.com", method="API", double_opt_in=True
    )
    assert again.outcome == Outcome.ALREADY_PENDING
    contact = Contact.objects.get()
    assert contact.state == SubscriptionState.PENDING
    assert contact.subscribed_at is None
    confirmed = subscribe_contact(
        email_list=email_list, email="p@example.com", method="Double Opt-In"
    )
    assert confirmed.outcome == Outcome.SUBSCRIBED
    assert kinds(contact) == [ActivityKind.PENDING, ActivityKind.SUBSCRIBED]


def test_the_same_address_on_two_lists_is_two_contacts():
    first, second = ListFactory(), ListFactory()
    subscribe_contact(email_list=first, email="a@example.com", method="API")
    result = subscribe_contact(email_list=second, email="A@example.com", method="API")
    assert result.outcome == Outcome.SUBSCRIBED
    assert Contact.objects.filter(email="a@example.com").count() == 2


def test_an_invalid_address_is_refused_naming_it_and_nothing_changes():
    email_list = ListFactory()
    with pytest.raises(ValidationError) as raised:
        subscribe_contact(email_list=email_list, email="not-an-address", method="API")
    assert raised.value.messages == ["'not-an-address' is not a valid email address."]
    assert raised.value.error_list[0].code == "ERROR_INVALID_PARAMETER"
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()


@pytest.mark.parametrize("bad", ["", "   ", None, 42, "a@b", "x" * 250 + "@example.com"])
def test_every_kind_of_bad_address_is_refused(bad):
    with pytest.raises(ValidationError):
        subscribe_contact(email_list=ListFactory(), email=bad, method="API")
    assert not Contact.objects.exists()


def test_the_batch_form_reports_each_address_in_order_and_writes_in_bulk(
    django_assert_max_num_queries,
):
    email_list = ListFactory()
    subscribed = ContactFactory(list=email_list, email="old@example.com")
    left = ContactFactory(list=email_list, email="left@example.com")
    unsubscribe_contact(contact=left, method="Admin")
    emails = ["old@example.com", "bad", "left@example.com"] + [
        f"n{i}@example.com" for i in range(200)
    ]
    emails.append("N0@example.com")  # repeated, in another case
    with django_assert_max_num_queries(12):
        results = subscribe_contacts(email_list=email_list, emails=emails, method="List Import")
    outcomes = [r.outcome for r in results]
    assert outcomes[:3] == [
        Outcome.ALREADY_SUBSCRIBED,
        Outcome.INVALID,
        Outcome.PREVIOUSLY_UNSUBSCRIBED,
    ]
    assert outcomes[3:203] == [Outcome.SUBSCRIBED] * 200
    assert outcomes[203] == Outcome.SKIPPED
    assert results[1].error is not None
    assert Contact.objects.filter(list=email_list).count() == 202
    assert Activity.objects.filter(kind=ActivityKind.SUBSCRIBED).count() == 200
    assert subscribed.activities.count() == 0


def test_unsubscribing_records_the_method_and_date():
    contact = ContactFactory()
    result = unsubscribe_contact(contact=contact, method="Unsubscribe Link")
    assert result.outcome == Outcome.UNSUBSCRIBED
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.unsubscribe_method == "Unsubscribe Link"
    assert contact.unsubscribed_at is not None
    activity = contact.activities.get()
    assert (activity.kind, activity.details) == (
        ActivityKind.UNSUBSCRIBED,
        {"method": "Unsubscribe Link"},
    )
    again = unsubscribe_contact(contact=contact, method="Admin")
    assert again.outcome == Outcome.ALREADY_UNSUBSCRIBED
    contact.refresh_from_db()
    assert contact.unsubscribe_method == "Unsubscribe Link"
    assert contact.activities.count() == 1


def test_unsubscribing_an_address_not_on_the_list_is_refused():
    email_list = ListFactory(name="News")
    (result,) = unsubscribe_contacts(
        email_list=email_list, emails=["who@example.com"], method="API"
    )
    assert result.outcome == Outcome.NOT_ON_LIST
    assert result.error.messages == ["who@example.com is not on list 'News'."]
    assert result.error.code == "ERROR_NOT_SUBSCRIBED_EMAIL_ADDRESS"
    assert not Contact.objects.exists()


def test_a_pending_contact_can_be_unsubscribed():
    contact = ContactFactory(state=SubscriptionState.PENDING, subscribed_at=None)
    assert unsubscribe_contact(contact=contact, method="API").outcome == Outcome.UNSUBSCRIBED
