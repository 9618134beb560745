"""A marketer writes a broadcast in a real browser by clicking and typing
only: chooses its message, builds "First Name is Ada" with the filter
builder and watches the count of contacts it reaches change, sends it now,
and sees its progress reach Sent on its own, through a real SMTP server."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.worker import work
from tests.browser import log_in
from tests.factories import ContactFactory, MessageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_a_broadcast_with_the_filter_builder_send_it_and_watch_it_reach_sent(
    live_server, browser_page, shop, smtp_server
):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    MessageFactory(
        list=shop,
        name="Spring sale",
        subject="Spring sale",
        html_body='<p>Hello</p><a href="https://shop.example/sale">Shop</a>',
        text_body="",
    )
    first_name = shop.profile_fields.get(name="First Name")
    for n, name in enumerate(["Ada", "Bob", "Ada"]):
        ContactFactory(list=shop, email=f"c{n}@example.com", profile={first_name.key: name})
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    page.goto(f"{live_server.url}/admin/broadcasts/broadcast/add/")  # one list: its form
    reach = page.locator("#audience-reach")
    expect(reach).to_have_text("This broadcast reaches 3 contacts now.")
    page.fill("#id_name", "Spring sale for Adas")
    page.select_option("#id_message", label="Spring sale")
    expect(page.locator("a.message-preview")).to_be_visible()
    assert page.is_hidden(".criteria-builder")  # everyone, until conditions are asked for

    page.get_by_label("Contacts matching conditions").check()
    top = page.locator(".criteria-top")
    expect(top).to_be_visible()
    assert page.is_hidden("#id_criteria")  # rows, not JSON
    add = top.locator(":scope > .criteria-add")
    expect(add.get_by_role("button", name="+ Email engagement")).to_be_hidden()
    add.get_by_role("button", name="+ Profile field").click()
    row = top.locator(":scope > .criteria-line").nth(0)
    row.get_by_label("Profile field").select_option(label="First Name")
    row.get_by_label("Value").fill("Ada")
    expect(reach).to_have_text("This broadcast reaches 2 contacts now.")

    page.click("#send-now")
    expect(page.locator(".messagelist .success")).to_have_text(
        "“Spring sale for Adas” is sending now: follow it below."
    )
    box = page.locator("#broadcast-progress")
    expect(box.locator("h2")).to_have_text("Progress · Scheduled")

    # A worker picks it up (the test's own, as the queue's would); the page follows on its own.
    work(budget=10)
    expect(box.locator("h2")).to_have_text("Progress · Sent", timeout=15_000)
    expect(box.locator(".figure-sent dd")).to_have_text("2")
    expect(page.locator("#broadcast-report")).to_be_visible()
    broadcast = Broadcast.objects.get()
    assert broadcast.status == BroadcastStatus.SENT
    assert sorted(m["To"] for m in smtp_server.messages) == ["c0@example.com", "c2@example.com"]
