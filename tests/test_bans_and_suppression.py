"""Banned and suppressed addresses cannot be subscribed (SPEC section 2)."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import ActivityKind, Ban, Contact, SubscriptionState, Suppression
from contacts.services import (
    Outcome,
    ban_address,
    ban_addresses,
    subscribe_contact,
    subscribe_contacts,
    suppress_addresses,
    unban_addresses,
    unsuppress_addresses,
)
from tests.factories import ContactFactory, ListFactory

pytestmark = pytest.mark.django_db


def test_a_banned_address_cannot_be_subscribed_even_with_override():
    email_list = ListFactory(name="News")
    ban_address(email_list=email_list, email="Spam@Example.com", reason="abuse")
    for override in (False, True):
        with pytest.raises(ValidationError) as raised:
            subscribe_contact(
                email_list=email_list,
                email="spam@example.com",
                method="API",
                override_unsubscribe=override,
            )
        assert raised.value.code == "ERROR_BANNED_EMAIL_ADDRESS"
        assert raised.value.messages == ["spam@example.com is banned from list 'News'."]
    assert not Contact.objects.exists()


def test_a_ban_is_per_list():
    banned_on, other = ListFactory(), ListFactory()
    ban_address(email_list=banned_on, email="x@example.com")
    assert (
        subscribe_contact(email_list=other, email="x@example.com", method="API").outcome
        == Outcome.SUBSCRIBED
    )


def test_banning_unsubscribes_the_contact_with_method_ban_and_lifting_it_does_not_resubscribe():
    contact = ContactFactory()
    ban_address(email_list=contact.list, email=contact.email, reason="abuse")
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.unsubscribe_method == "Ban"
    assert unban_addresses(email_list=contact.list, emails=[contact.email]) == 1
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert not Ban.objects.exists()
    assert list(contact.activities.order_by("id").values_list("kind", flat=True)) == [
        ActivityKind.UNSUBSCRIBED,
        ActivityKind.BANNED,
        ActivityKind.UNBANNED,
    ]
    # Unbanned, it may be subscribed again, by override since it unsubscribed.
    result = subscribe_contact(
        email_list=contact.list, email=contact.email, method="Admin", override_unsubscribe=True
    )
    assert result.outcome == Outcome.RESUBSCRIBED


def test_banning_twice_is_harmless():
    email_list = ListFactory()
    results = ban_addresses(email_list=email_list, emails=["a@example.com", "a@example.com", "bad"])
    ban_addresses(email_list=email_list, emails=["a@example.com"])
    assert [r.outcome for r in results] == [Outcome.BANNED, Outcome.SKIPPED, Outcome.INVALID]
    assert Ban.objects.count() == 1


def test_a_suppressed_address_cannot_be_subscribed_to_any_list():
    first, second = ListFactory(), ListFactory()
    existing = ContactFactory(list=first, email="quiet@example.com")
    suppress_addresses(emails=["QUIET@example.com"], reason="legal request")
    for email_list in (first, second):
        (result,) = subscribe_contacts(
            email_list=email_list, emails=["quiet@example.com"], method="API"
        )
        assert result.outcome in (Outcome.SUPPRESSED,)
        assert result.error.code == "ERROR_SUPPRESSED_EMAIL"
    existing.refresh_from_db()
    assert existing.state == SubscriptionState.SUBSCRIBED  # kept, but never sent to
    assert list(existing.activities.values_list("kind", flat=True)) == [ActivityKind.SUPPRESSED]
    assert Suppression.objects.get().email == "quiet@example.com"


def test_lifting_a_suppression_does_not_resubscribe_but_allows_subscribing():
    email_list = ListFactory()
    suppress_addresses(emails=["q@example.com"])
    assert unsuppress_addresses(emails=["q@example.com"]) == 1
    assert not Contact.objects.exists()
    assert (
        subscribe_contact(email_list=email_list, email="q@example.com", method="API").outcome
        == Outcome.SUBSCRIBED
    )


def test_in_a_batch_banned_and_suppressed_are_reported_and_the_rest_subscribed():
    email_list = ListFactory()
    ban_address(email_list=email_list, email="b@example.com")
    suppress_addresses(emails=["s@example.com"])
    results = subscribe_contacts(
        email_list=email_list,
        emails=["b@example.com", "s@example.com", "ok@example.com"],
        method="API",
    )
    assert [r.outcome for r in results] == [Outcome.BANNED, Outcome.SUPPRESSED, Outcome.SUBSCRIBED]
    assert list(Contact.objects.values_list("email", flat=True)) == ["ok@example.com"]
