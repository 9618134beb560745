"""Transactional messages in the admin: written for a list with the message
editor's message, their API address shown plainly, their latest sends with
what became of each email; every page and write behind its permission."""

from __future__ import annotations

import pytest

from broadcasts.models import TransactionalMessage
from broadcasts.transactional import send_transactional
from contacts.services import ban_address
from emails.models import Message
from tests.factories import ListFactory
from tests.staff import staff
from tests.transactional_helpers import order_confirmation

pytestmark = pytest.mark.django_db

ADD = "/admin/broadcasts/transactionalmessage/add/"
LIST = "/admin/broadcasts/transactionalmessage/"
WRITERS = (
    "broadcasts.view_transactionalmessage",
    "broadcasts.add_transactionalmessage",
    "broadcasts.change_transactionalmessage",
    "emails.view_message",
    "emails.add_message",
    "emails.change_message",
)


def change_url(transactional_message) -> str:
    return f"/admin/broadcasts/transactionalmessage/{transactional_message.pk}/change/"


@pytest.fixture
def receipt(shop):
    return order_confirmation(shop)


def written_message(shop, name: str = "Password reset", **fields) -> Message:
    body = {"subject": "Reset your password", "text_body": "Follow this link.", **fields}
    return Message.objects.create(list=shop, name=name, **body)


def test_staff_write_one_for_a_list_and_see_where_the_api_sends_it(shop):
    client = staff(*WRITERS)
    message = written_message(shop)

    page = client.get(f"{ADD}?list={shop.pk}")
    assert page.status_code == 200
    assert "+ writes a new message" in page.text  # the message editor, in a popup
    response = client.post(
        f"{ADD}?list={shop.pk}",
        {"name": "", "message": message.pk, "campaign": "", "external_campaign_id": ""},
    )

    assert response.status_code == 302, response.text
    created = TransactionalMessage.objects.get()
    assert (created.list, created.name, created.message) == (shop, "Password reset", message)
    page = client.get(change_url(created))
    address = f"POST /email/v1/List/{shop.pk}/TransactionalMessage/{created.pk}/Message"
    assert f"API id: <strong>{created.pk}</strong>" in page.text
    assert address in page.text
    assert "Not sent yet" not in page.text  # sends show only to those who may view emails


def test_a_message_of_another_list_or_with_a_system_link_is_refused_in_words(shop):
    client = staff(*WRITERS)
    elsewhere = written_message(ListFactory(name="Other"), name="Theirs")
    linked = written_message(shop, name="Newsletter", text_body="Bye: {{ links.unsubscribe }}")

    other = client.post(f"{ADD}?list={shop.pk}", {"name": "X", "message": elsewhere.pk})
    unsubscribe = client.post(f"{ADD}?list={shop.pk}", {"name": "X", "message": linked.pk})

    assert other.status_code == 200
    assert "Select a valid choice" in other.text  # not offered: another list's
    assert unsubscribe.status_code == 200
    assert "holds the unsubscribe link; a transactional message may not" in unsubscribe.text
    assert not TransactionalMessage.objects.exists()


def test_a_message_another_transactional_message_sends_is_not_offered(shop, receipt):
    client = staff(*WRITERS)

    response = client.post(
        f"{ADD}?list={shop.pk}", {"name": "Again", "message": receipt.message_id}
    )

    assert "Select a valid choice" in response.text
    assert TransactionalMessage.objects.count() == 1


def test_its_page_lists_the_latest_sends_with_what_became_of_each(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send_transactional(transactional_message=receipt, email="ada@example.com", values={})
    with django_capture_on_commit_callbacks(execute=False) as later:
        send_transactional(transactional_message=receipt, email="bo@example.com", values={})
    ban_address(email_list=shop, email="bo@example.com")
    for callback in later:
        callback()
    client = staff(*WRITERS, "emails.view_delivery")

    page = client.get(change_url(receipt)).text

    assert "Latest sends" in page
    assert "ada@example.com" in page and "Sent" in page
    assert "bo@example.com" in page and "Not sent: the address is banned." in page
    assert "?transactional_message=" in page
    emails = client.get(f"/admin/emails/delivery/?transactional_message={receipt.pk}")
    assert emails.status_code == 200
    assert "ada@example.com" in emails.text and "bo@example.com" in emails.text


def test_without_the_right_to_view_deliveries_the_sends_are_not_shown(shop, receipt):
    send_transactional(transactional_message=receipt, email="ada@example.com", values={})
    client = staff(*WRITERS)

    page = client.get(change_url(receipt)).text

    assert "Latest sends" not in page
    assert "ada@example.com" not in page


def test_the_message_page_says_it_is_a_transactional_messages(shop, receipt):
    client = staff(*WRITERS)

    page = client.get(f"/admin/emails/message/{receipt.message_id}/change/").text

    assert "It is the transactional message" in page
    assert "your edits reach the very next one" in page


# --- Refusals -------------------------------------------------------------------------


def test_staff_without_the_view_permission_are_refused(shop, receipt):
    client = staff("emails.view_message")

    assert client.get(LIST).status_code == 403
    assert client.get(change_url(receipt)).status_code == 403
    assert client.get(f"{ADD}?list={shop.pk}").status_code == 403


def test_staff_who_may_only_view_see_it_as_text_and_cannot_change_it(shop, receipt):
    client = staff("broadcasts.view_transactionalmessage")
    other = written_message(shop)

    page = client.get(change_url(receipt))
    response = client.post(change_url(receipt), {"name": "Hacked", "message": other.pk})

    assert page.status_code == 200
    assert "Order confirmation" in page.text and 'name="name"' not in page.text
    assert response.status_code == 403
    receipt.refresh_from_db()
    assert receipt.name == "Order confirmation"


def test_staff_without_the_add_permission_cannot_write_one(shop):
    client = staff("broadcasts.view_transactionalmessage")
    message = written_message(shop)

    response = client.post(f"{ADD}?list={shop.pk}", {"name": "X", "message": message.pk})

    assert response.status_code == 403
    assert not TransactionalMessage.objects.exists()


def test_one_that_has_sent_cannot_be_deleted(shop, receipt):
    send_transactional(transactional_message=receipt, email="ada@example.com", values={})
    client = staff(*WRITERS, "broadcasts.delete_transactionalmessage")

    response = client.post(
        f"/admin/broadcasts/transactionalmessage/{receipt.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 403
    assert TransactionalMessage.objects.filter(pk=receipt.pk).exists()


def test_the_add_page_asks_for_the_list_first(shop):
    ListFactory(name="Outlet")
    client = staff(*WRITERS)

    page = client.get(ADD)

    assert page.status_code == 200
    assert "which list?" in page.text
    assert f"?list={shop.pk}" in page.text
