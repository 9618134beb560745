"""A marketer in a real browser, on the development setup (emails kept in
the development mailbox, as ``make run`` does): writes a message with a
merge field, previews it for a contact, sends a test and reads it in the
mailbox; then a contact subscribes, gets the conversation's email, and it is
in the mailbox and on the contact's page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from conductor.engine.tasks import run_due
from conductor.models import StepKind
from conductor.versions import publish
from contacts.services import subscribe_contact, update_profile
from emails.models import Delivery, DeliveryStatus, MailboxEmail, Message
from tests.browser import log_in, write_body
from tests.factories import conversation_with_steps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HTML = '<p>Hello {{ profile.first_name }}!</p><a href="https://shop.example/new">New in</a>'


def test_write_preview_test_send_and_read_a_message_then_a_subscriber_gets_it(
    live_server, browser_page, shop, settings
):
    settings.EMAIL_BACKEND = "emails.mailbox.MailboxBackend"
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    grace = subscribe_contact(email_list=shop, email="grace@example.com", method="API").contact
    assert grace is not None
    update_profile(contact=grace, values={"First Name": "Grace"})
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    # Write the message, with a merge field.
    page.goto(f"{live_server.url}/admin/emails/message/add/")
    page.select_option("#id_list", label="Shop")
    page.fill("#id_name", "Welcome")
    page.fill("#id_subject", "Welcome, {{ profile.first_name }}")
    write_body(page, "html_body", HTML)
    write_body(page, "text_body", "Hello {{ profile.first_name }}! https://shop.example/new")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    message = Message.objects.get(name="Welcome")

    # Preview it for Grace.
    page.click("text=Preview")
    page.fill("input[name=email]", "grace@example.com")
    with page.expect_navigation():  # the page for Grace, not the one before it
        page.keyboard.press("Enter")
    page.wait_for_selector("text=Welcome, Grace")
    preview = page.content()
    assert "Welcome, Grace" in preview
    assert "https://shop.example/new" in preview
    frame = page.frame_locator("iframe").first
    assert "Hello Grace!" in frame.locator("body").inner_text()

    # Send a test; it lands in the development mailbox.
    page.goto(f"{live_server.url}/admin/emails/message/{message.pk}/change/")
    page.click("text=Send a test")
    page.fill("#id_email", "grace@example.com")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    page.goto(f"{live_server.url}/admin/emails/mailboxemail/")
    page.click("text=[Test] Welcome, Grace")
    frame = page.frame_locator("iframe").first
    assert "Hello Grace!" in frame.locator("body").inner_text()

    # A conversation sends it to each new subscriber; Ada subscribes and gets it.
    conversation, _ = conversation_with_steps(
        shop, (StepKind.MESSAGE, {"message": message.pk}), (StepKind.TERMINATE, {})
    )
    publish(conversation)
    ada = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    assert ada is not None
    update_profile(contact=ada, values={"First Name": "Ada"})
    run_due()  # what the worker does
    assert Delivery.objects.get(contact=ada).status == DeliveryStatus.SENT
    assert MailboxEmail.objects.filter(subject="Welcome, Ada").count() == 1

    page.goto(f"{live_server.url}/admin/emails/mailboxemail/")
    page.click("text=Welcome, Ada")
    frame = page.frame_locator("iframe").first
    assert "Hello Ada!" in frame.locator("body").inner_text()

    page.goto(f"{live_server.url}/admin/contacts/contact/{ada.pk}/change/")
    emails = page.locator("table.contact-emails").inner_text()
    assert "Welcome" in emails and "Sent" in emails
    assert conversation.name in page.locator("table.contact-conversations").inner_text()
