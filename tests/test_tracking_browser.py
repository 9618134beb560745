"""A delivered email (taken from the real SMTP server) opened in Chromium:
its pixel loads, a tracked link lands on its target and moves the waiting
contact into the child thread for clicks, and the unsubscribe link's page
unsubscribes."""

from __future__ import annotations

import time

import pytest

from conductor.engine.tasks import run_due
from conductor.models import ChildEvent, Enrollment, StepKind
from conductor.versions import publish
from contacts.models import ActivityKind, Contact, SubscriptionState
from contacts.services import subscribe_contact
from tests.factories import MessageFactory, StepFactory, ThreadFactory, conversation_with_steps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_email_opened_in_a_browser_is_tracked_and_its_unsubscribe_link_works(
    live_server, browser_page, shop, smtp_server, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    landing = f"{live_server.url}/admin/login/?from=email"
    message = MessageFactory(
        list=shop,
        html_body=f'<html><body><p>Sale</p><a id="sale" href="{landing}">Shop</a></body></html>',
        text_body="Our sale",
    )
    conversation, (_, wait, _) = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": message.pk}),
        (StepKind.WAIT, {"kind": "duration", "days": 3}),
        (StepKind.TERMINATE, {}),
        name="Welcome",
    )
    clicked = ThreadFactory(parent_step=wait, name="Clicked", child_event=ChildEvent.CLICKED_ANY)
    StepFactory(thread=clicked)
    publish(conversation)
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    run_due()
    (email,) = smtp_server.messages
    html = email.get_body(preferencelist=("html",)).get_content()

    page = browser_page
    page.set_content(html)  # as a mail client shows it: the pixel loads from the server
    wait_for(lambda: contact.activities.filter(kind=ActivityKind.EMAIL_OPENED).exists())

    page.click("#sale")
    page.wait_for_url(landing)
    click = contact.activities.get(kind=ActivityKind.EMAIL_CLICKED)
    assert click.details["link_url"] == landing
    assert "Chrome" in click.details["user_agent"]
    assert Enrollment.objects.get(contact=contact).thread.name == "Clicked"

    page.set_content(html)
    page.click("text=Unsubscribe")
    page.wait_for_selector("text=Stop sending email from")
    page.click("button[type=submit]")
    page.wait_for_selector("text=You are unsubscribed")
    assert Contact.objects.get(pk=contact.pk).state == SubscriptionState.UNSUBSCRIBED
