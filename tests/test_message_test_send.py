"""A test send of a message to any address from the admin."""

from __future__ import annotations

import pytest

from contacts.models import Activity
from contacts.services import subscribe_contact, update_profile
from emails.models import Delivery, Message
from tests.factories import MessageFactory
from tests.smtp import text_of
from tests.tracking_helpers import HTML, TEXT

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(shop) -> Message:
    return MessageFactory.create(
        list=shop, subject="Sale for {{ profile.first_name }}", html_body=HTML, text_body=TEXT
    )


def url(message: Message) -> str:
    return f"/admin/emails/message/{message.pk}/test-send/"


def test_the_change_page_links_to_the_test_send_form(admin_client, message):
    page = admin_client.get(f"/admin/emails/message/{message.pk}/change/").content.decode()
    assert url(message) in page
    assert admin_client.get(url(message)).status_code == 200


def test_a_test_goes_to_any_address_with_plain_links_and_records_nothing(
    admin_client, message, smtp_server
):
    response = admin_client.post(url(message), {"email": "Someone@Elsewhere.example"})
    assert response.status_code == 302
    (email,) = smtp_server.messages
    assert email["To"] == "Someone@Elsewhere.example"
    assert email["Subject"] == "[Test] Sale for"
    html = email.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://shop.example/sale"' in html
    assert "/t/" not in html and "/t/" not in text_of(email)
    assert "https://shop.example/sale" in text_of(email)
    assert not Delivery.objects.exists()
    assert not Activity.objects.exists()


def test_a_test_to_a_contacts_address_uses_its_profile(shop, admin_client, message, smtp_server):
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    update_profile(contact=contact, values={"First Name": "Ada"})
    admin_client.post(url(message), {"email": "ada@example.com"})
    (email,) = smtp_server.messages
    assert email["Subject"] == "[Test] Sale for Ada"
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "href='https://shop.example/p?who=Ada'" in html


def test_a_bad_address_or_a_broken_template_is_shown_and_nothing_is_sent(
    admin_client, message, smtp_server
):
    response = admin_client.post(url(message), {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()
    message.subject = "{% if %}"
    message.save()
    response = admin_client.post(url(message), {"email": "a@example.com"})
    assert response.status_code == 200
    assert "Not sent:" in response.content.decode()
    assert smtp_server.messages == []
