"""An address made a contact only to receive transactional email is not a
subscriber and not a once-unsubscribed address: every subscription (a
signup, the API, an import, an address change) treats it as a new address,
with no consent or override, and no list figure counts it."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from contacts.imports.models import ImportType
from contacts.models import (
    Activity,
    ActivityKind,
    Contact,
    OptInRequest,
    SubscriptionState,
    UnsubscribeMethod,
)
from contacts.services import (
    ban_address,
    change_address,
    subscribe_contacts,
    suppress_addresses,
    transactional_recipient,
    unsubscribe_contact,
    unsubscribe_contacts,
)
from emails.models import Delivery
from emails.sending.delivery import send_deliveries
from signups.models import SignupOutcome
from signups.services import sign_up
from tests.api_helpers import assert_error
from tests.factories import ContactFactory
from tests.imports_helpers import do_import, results
from tests.test_signups import make_point
from tests.transactional_helpers import field_id, field_key, order_confirmation

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger(shop) -> Contact:
    """An address the shop only ever sent a receipt to."""
    return transactional_recipient(email_list=shop, email="Stranger@Example.com")


def kinds_of(contact: Contact) -> list[str]:
    return list(
        Activity.objects.filter(contact=contact).order_by("pk").values_list("kind", flat=True)
    )


def test_it_is_made_never_subscribed_with_no_dates_and_no_activity(shop, stranger):
    assert stranger.email == "stranger@example.com"
    assert stranger.state == SubscriptionState.NEVER_SUBSCRIBED
    assert (stranger.subscribed_at, stranger.unsubscribed_at) == (None, None)
    assert (stranger.subscribe_method, stranger.unsubscribe_method) == ("", "")
    assert kinds_of(stranger) == []
    # The same address again is the same contact, whatever its subscription.
    assert transactional_recipient(email_list=shop, email="stranger@example.com") == stranger


def test_an_existing_contact_is_taken_as_it_is(shop):
    ada = ContactFactory(list=shop, email="ada@example.com")
    unsubscribe_contact(contact=ada, method=UnsubscribeMethod.API)

    assert transactional_recipient(email_list=shop, email="ada@example.com") == ada
    ada.refresh_from_db()
    assert ada.state == SubscriptionState.UNSUBSCRIBED


@pytest.mark.parametrize("block", ["ban", "suppress"])
def test_a_banned_or_suppressed_address_is_refused_and_nothing_is_made(shop, block):
    if block == "ban":
        ban_address(email_list=shop, email="bo@example.com")
    else:
        suppress_addresses(emails=["bo@example.com"])

    with pytest.raises(ValidationError) as refused:
        transactional_recipient(email_list=shop, email="bo@example.com")

    assert refused.value.code in ("ERROR_BANNED_EMAIL_ADDRESS", "ERROR_SUPPRESSED_EMAIL")
    assert not Contact.objects.filter(email="bo@example.com").exists()


def test_the_database_refuses_a_never_subscribed_contact_with_a_subscribe_date(shop, stranger):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=stranger.pk).update(subscribed_at=stranger.created_at)


# --- Subscribing it: as a new address -------------------------------------------------


def test_the_api_subscribes_it_as_a_new_address_with_its_values(shop, stranger, api):
    body = {
        "emailAddress": "stranger@example.com",
        "segmentationFieldValues": [
            {"segmentationFieldId": field_id(shop, "First Name"), "value": "Sam"}
        ],
    }

    response = api.post(f"List/{shop.pk}/Contact", body)

    assert response.status_code == 201, response.content
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.SUBSCRIBED
    assert stranger.subscribe_method == "API"
    assert stranger.resubscribed_at is None  # a first subscription, not a return
    assert stranger.profile == {field_key(shop, "First Name"): "Sam"}
    # As a new contact: one first-ever "subscribed" (the Subscribe trigger), no "profile updated".
    assert kinds_of(stranger) == [ActivityKind.SUBSCRIBED]


def test_the_api_with_double_opt_in_makes_it_pending_and_asks_for_confirmation(shop, stranger, api):
    response = api.post(
        f"List/{shop.pk}/Contact?sendDoubleOptIn=true", {"emailAddress": "stranger@example.com"}
    )

    assert response.status_code == 201, response.content
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.PENDING
    assert OptInRequest.objects.filter(contact=stranger).count() == 1


def test_a_signup_subscribes_it_without_a_consent_box(shop, stranger):
    point = make_point(shop, fields=("First Name",))

    signup = sign_up(
        point=point, email="stranger@example.com", values={field_key(shop, "First Name"): "Sam"}
    )

    assert signup.outcome == SignupOutcome.SUBSCRIBED
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.SUBSCRIBED
    assert stranger.profile == {field_key(shop, "First Name"): "Sam"}
    assert ActivityKind.PROFILE_UPDATED not in kinds_of(stranger)


def test_an_import_subscribes_it_as_a_new_address_with_the_rows_values(shop, stranger, engine):
    done = do_import(shop, "email,First Name\nstranger@example.com,Sam\n", engine=engine)

    assert results(done)[0][2] == "Subscribed"
    assert done.summary()["subscribedCount"] == 1
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.SUBSCRIBED
    assert stranger.subscribe_method == "List Import"
    assert stranger.profile == {field_key(shop, "First Name"): "Sam"}
    assert kinds_of(stranger) == [ActivityKind.SUBSCRIBED]


@pytest.mark.parametrize(
    "import_type", [ImportType.UPDATE_SUBSCRIBERS, ImportType.REMOVE_SUBSCRIBERS]
)
def test_updating_or_removing_imports_skip_it_as_not_on_the_list(
    shop, stranger, engine, import_type
):
    done = do_import(
        shop, "email,First Name\nstranger@example.com,Sam\n", engine=engine, import_type=import_type
    )

    assert results(done)[0][2:] == ("Skipped", "The address is not on the list.")
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.NEVER_SUBSCRIBED
    assert stranger.profile == {}


def test_a_batch_subscribe_says_subscribed_not_previously_unsubscribed(shop, stranger):
    (result,) = subscribe_contacts(email_list=shop, emails=[stranger.email], method="Admin")

    assert result.outcome == "Subscribed"
    assert result.created  # new to the list's subscriptions


def test_a_contact_moves_to_its_address_as_to_a_new_one(shop, stranger):
    ada = ContactFactory(list=shop, email="ada@example.com", external_contact_id="A1")

    moved = change_address(contact=ada, new_email="stranger@example.com")

    assert moved.pk == stranger.pk  # its row, now the moved contact
    assert moved.state == SubscriptionState.SUBSCRIBED
    assert moved.subscribe_method == "Address Change"
    assert moved.external_contact_id == "A1"
    ada.refresh_from_db()
    assert ada.state == SubscriptionState.UNSUBSCRIBED


# --- Unsubscribing it: nothing to leave -------------------------------------------


def test_the_api_cannot_unsubscribe_it_as_it_cannot_a_new_address(shop, stranger, api):
    response = api.post(
        f"List/{shop.pk}/Contact",
        {"emailAddress": "stranger@example.com", "subscriptionState": "Unsubscribed"},
    )

    assert_error(response, 400, "ERROR_NOT_SUBSCRIBED_EMAIL_ADDRESS", "not on list")
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.NEVER_SUBSCRIBED


def test_a_ban_leaves_it_never_subscribed_and_lifting_it_leaves_a_new_address(shop, stranger):
    ban_address(email_list=shop, email=stranger.email)
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.NEVER_SUBSCRIBED
    (result,) = unsubscribe_contacts(email_list=shop, emails=[stranger.email], method="Admin")
    assert result.outcome == "NotOnList"


def test_a_bounce_of_its_receipt_records_the_bounce_and_unsubscribes_nothing(
    shop, smtp_server, settings, django_capture_on_commit_callbacks
):
    from broadcasts.transactional import send_transactional

    settings.EMAIL_FEEDBACK_SECRET = "s" * 32
    receipt = order_confirmation(shop)
    with django_capture_on_commit_callbacks(execute=True):
        send_transactional(transactional_message=receipt, email="gone@example.com", values={})
    (email,) = smtp_server.messages
    body = {"email": "gone@example.com", "message_id": email["Message-ID"], "kind": "hard_bounce"}

    response = Client().post(
        "/webhooks/email-feedback/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer " + "s" * 32,
    )

    assert response.status_code == 200, response.content
    assert response.json()["unsubscribed"] == 0
    gone = Contact.objects.get(email="gone@example.com")
    assert gone.state == SubscriptionState.NEVER_SUBSCRIBED
    assert ActivityKind.EMAIL_BOUNCED in kinds_of(gone)


# --- Not counted, not shown as a contact ---------------------------------------------


def test_the_api_neither_lists_nor_finds_it(shop, stranger, api):
    for state in ("Subscribed", "Unsubscribed"):
        page = api.get(f"List/{shop.pk}/Contact?subscriptionState={state}").json()
        assert page["data"] == []
    assert_error(
        api.get(f"List/{shop.pk}/Contact/stranger@example.com"),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
    )


def test_no_marketing_email_goes_to_it(shop, stranger, smtp_server):
    from conductor.engine.step_emails import step_run_type

    receipt = order_confirmation(shop)
    Delivery.objects.create(
        source_type=step_run_type(), source_id=1, message=receipt.message, contact=stranger
    )

    send_deliveries()

    delivery = Delivery.objects.get(contact=stranger)
    assert delivery.status == "Skipped"
    assert smtp_server.messages == []


def test_its_admin_page_says_it_never_subscribed(shop, stranger, admin_client):
    page = admin_client.get(f"/admin/contacts/contact/{stranger.pk}/change/")

    assert page.status_code == 200
    assert "Never subscribed: on the list only to receive transactional email" in page.text


def test_staff_adding_its_address_subscribes_it_as_a_new_contact(shop, stranger, admin_client):
    response = admin_client.post(
        "/admin/contacts/contact/add/",
        {"list": shop.pk, "email": "Stranger@example.com", "external_contact_id": "C9"},
    )

    assert response.status_code == 302, response.text
    stranger.refresh_from_db()
    assert stranger.state == SubscriptionState.SUBSCRIBED
    assert stranger.subscribe_method == "Admin"
    assert stranger.external_contact_id == "C9"
