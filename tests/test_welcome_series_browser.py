"""A marketer in a real browser builds a welcome series alone, by clicking
and typing (no JSON, no ids): a conversation with a first-ever subscription
trigger, a coupon handed out, a welcome email written from its step, a two
day Wait, a Go To for those who clicked it, a reminder and a Terminate. They
preview the email with sample data and publish; then a contact subscribes,
gets the email with their code, and waits at the Wait, as the contact's page
and the published diagram show."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from conductor.engine.tasks import run_due
from emails.models import Delivery, DeliveryStatus
from tests.browser import log_in
from tests.factories import CouponFactory, CouponPoolFactory, ListFactory, ProfileFieldFactory
from tests.smtp import text_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODES = ["WELCOME-001", "WELCOME-002", "WELCOME-003"]
SELECTED = "s => s.selectedOptions[0].text"


def minutes(shown: str) -> int:
    """Minutes since the epoch of a time as the admin shows it ("2026-12-07 09:24")."""
    when = datetime.datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.UTC)
    return int(when.timestamp()) // 60


def write_message(page: Page, name: str, subject: str, before: str, after: str) -> None:
    """In the message window the Message step's "+" opened: its name and
    subject, and an HTML body of ``before``, the {{ coupon }} merge field
    (clicked from the list of merge fields) and ``after``; then saved."""
    with page.expect_popup() as opened:
        page.click("#add_id_message")
    popup = opened.value
    popup.wait_for_selector("#id_name")
    assert popup.inner_text(".field-list .locked-list") == "Shop"
    popup.fill("#id_name", name)
    popup.fill("#id_subject", subject)
    popup.click(".field-html_body .ace_content")  # into the HTML body's editor
    # Typed as a paste is, whole: the editor would close tags typed key by key.
    popup.keyboard.insert_text(before)
    popup.click("button[data-merge-field='{{ coupon }}']")
    popup.keyboard.insert_text(after)
    with popup.expect_event("close"):
        popup.click("input[name=_save]")


def test_a_marketer_builds_previews_and_publishes_a_welcome_series_and_a_subscriber_waits(
    live_server, browser_page, smtp_server
):
    # Set-up, not the marketer's work: a list, its fields and a pool of codes.
    shop = ListFactory(name="Shop")
    ProfileFieldFactory(list=shop, group__list=shop, name="First Name")
    ProfileFieldFactory(list=shop, group__list=shop, name="Coupon Code")
    pool = CouponPoolFactory(list=shop, name="Welcome codes")
    for code in CODES:
        CouponFactory(pool=pool, code=code)
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    # The conversation, on the list, with its trigger.
    page.click("tr.model-conversation a.addlink")
    page.wait_for_selector("#conversation_form")
    page.select_option("#id_list", label="Shop")
    page.fill("#id_name", "Welcome series")
    page.click("input[name=_continue]")
    page.wait_for_selector("#publish-button")
    assert "No trigger: nobody will enter it." in page.inner_text("#no-trigger")
    page.click("#triggers-group .add-row a")
    page.select_option("#id_triggers-0-kind", label="First-ever subscription")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist :text('was changed successfully')")
    assert page.locator("#id_triggers-0-kind").evaluate(SELECTED) == "First-ever subscription"
    assert page.locator("#no-trigger").count() == 0

    def add(kind_label: str) -> None:
        page.click(f"a.add-step:text-is('+ {kind_label}')")
        page.wait_for_selector("#step_form")
        page.wait_for_load_state()  # its scripts ready: the "+" opens a window only then

    def save_step(added: str) -> None:
        page.click("input[name=_save]")
        page.wait_for_selector(f".messagelist :text('Added {added} step to Main.')")
        page.wait_for_selector("#thread_form")  # back on the thread's page

    # A code from the pool into the Coupon Code field.
    add("Action")
    page.fill("#id_name", "Give a code")
    page.select_option("#id_action", label="Set a coupon code into a text field")
    page.select_option("#id_pool", label="Welcome codes")
    page.select_option("#id_coupon_field", label="Coupon Code")
    save_step("Action")

    # The welcome email, written from its step and chosen there at once.
    add("Message")
    write_message(
        page,
        "Welcome",
        "Welcome {{ profile.first_name }}",
        "<p>Thanks for joining! Your code: ",
        '</p><p><a href="https://shop.example/new">See what is new</a></p>',
    )
    assert page.locator("#id_message").evaluate(SELECTED) == "Welcome"
    save_step("Message")

    add("Wait")
    page.select_option("#id_rule", label="For a time (days, hours, minutes)")
    page.fill("#id_days", "2")
    save_step("Wait")

    # Those who clicked the welcome email are done; the others get a reminder.
    add("Go To")
    page.select_option(
        "#id_target", label="The end of this thread: the contact leaves the conversation"
    )
    top = page.locator(".criteria-top")
    top.locator(":scope > .criteria-add").get_by_role("button", name="+ Email engagement").click()
    row = top.locator(":scope > .criteria-line").first
    row.get_by_label("Engagement").select_option(label="clicked")
    row.get_by_label("Message").select_option(label="Welcome")
    expect(page.locator(".criteria-count")).to_have_text("0 subscribed contacts of Shop match now.")
    assert page.is_hidden("#id_criteria")  # rows, not JSON
    save_step("Go To")

    add("Message")
    write_message(
        page,
        "Reminder",
        "Your code is waiting, {{ profile.first_name }}",
        "<p>Don't forget your code: ",
        "</p>",
    )
    assert page.locator("#id_message").evaluate(SELECTED) == "Reminder"
    save_step("Message")

    add("Terminate")
    save_step("Terminate")
    steps = page.locator(".step-order-item .step-order-text").all_inner_texts()
    assert [step.split()[0].lower() for step in steps] == [
        "action", "message", "wait", "go", "message", "terminate"
    ]  # fmt: skip
    assert "coupon from Welcome codes into Coupon Code" in steps[0]
    assert "Welcome" in steps[1] and "Reminder" in steps[4]

    # Opened again, the Go To shows the row as it was built.
    page.click(".step-order-item[data-name='Go To'] a")
    page.wait_for_selector(".criteria-top .criteria-line")
    row = page.locator(".criteria-top > .criteria-line")
    assert row.count() == 1
    assert row.get_by_label("Engagement").evaluate(SELECTED) == "clicked"
    assert row.get_by_label("Message").evaluate(SELECTED) == "Welcome"
    assert page.locator("#id_target").evaluate(SELECTED).startswith("The end of this thread")

    # The welcome email with sample data: nobody has subscribed yet.
    page.click("tr.model-message th a")
    page.click("#result_list a:text-is('Welcome')")
    page.click(".object-tools a:text-is('Preview')")
    page.wait_for_selector(".preview-inbox")
    assert page.inner_text(".preview-note") == (
        "List “Shop” has no contacts yet; showing sample data."
    )
    assert "{{ coupon }} shows a sample code, “SAMPLE-2024”" in page.inner_text("#content")
    assert page.inner_text(".preview-inbox strong") == "Welcome Ada"
    assert "Your code: SAMPLE-2024" in page.inner_text(".preview-text pre")
    expect(page.frame_locator(".desktop iframe").locator("body")).to_contain_text(
        "Thanks for joining! Your code: SAMPLE-2024"
    )
    assert "https://shop.example/new" in page.inner_text(".preview-links")

    # Published from the conversation's page.
    page.click(".breadcrumbs a:text-is('Home')")  # the preview has no sidebar
    page.click("tr.model-conversation th a")
    page.click("#result_list a:text-is('Welcome series')")
    page.wait_for_selector("#publish-button")
    page.click("#publish-button")
    page.wait_for_selector(".messagelist .success")
    assert "Published version 1." in page.inner_text(".messagelist")

    # Grace subscribes, added with the admin's contact form; then the worker runs.
    page.click("tr.model-contact a.addlink")
    page.wait_for_selector("#contact_form")
    page.wait_for_load_state()  # its script ready: choosing the list reloads the page
    with page.expect_navigation():  # the page reloads with the chosen list's fields
        page.select_option("#id_list", label="Shop")
    page.fill("#id_email", "grace@example.com")
    page.get_by_label("First Name").fill("Grace")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    run_due()  # what the conductor's worker does: her steps, then her email

    # Her page: in the series at the Wait, with her code, the welcome email sent.
    page.reload()
    page.wait_for_selector("table.contact-conversations")
    where = page.inner_text("table.contact-conversations")
    assert "Welcome series (version 1)" in where
    assert "(trigger: first-ever subscription)" in where
    entered, moves_on = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", where)
    assert f"At Main step 3, Wait; moves on at {moves_on} UTC" in where
    # Two days after she entered (the Wait began a moment later, maybe in the next minute).
    assert minutes(moves_on) - minutes(entered) in (2 * 24 * 60, 2 * 24 * 60 + 1)
    assert page.get_by_label("Coupon Code").input_value() == CODES[0]
    emails = page.locator("table.contact-emails tbody tr")
    assert emails.count() == 1
    assert emails.first.locator("td").all_inner_texts()[:3] == ["Welcome", "Welcome Grace", "Sent"]
    story = page.inner_text(".contact-story")
    assert f"Profile updated: Coupon Code from (empty) to “{CODES[0]}”" in story
    assert "Email “Welcome” sent — in conversation “Welcome series”" in story

    # The email arrived, with her code in it.
    (received,) = smtp_server.messages
    assert (received["To"], received["Subject"]) == ("grace@example.com", "Welcome Grace")
    assert f"Thanks for joining! Your code: {CODES[0]}" in text_of(received, "html")
    delivery = Delivery.objects.get()
    assert (delivery.contact.email, delivery.message.name, delivery.status) == (
        "grace@example.com", "Welcome", DeliveryStatus.SENT
    )  # fmt: skip

    # The published diagram counts her waiting at the Wait, past the first two steps.
    page.click("table.contact-conversations a:text-is('Welcome series')")
    page.wait_for_selector("#publish-button")
    page.click("a.diagram-switch")
    page.wait_for_selector("#diagram svg[data-version='1']")
    assert "diagram=published" in page.url
    counts = page.locator("#diagram .diagram-step .diagram-counts").all_text_contents()
    assert counts == [
        "waiting 0 · held 0 · passed 1",  # Action
        "waiting 0 · held 0 · passed 1",  # Message
        "waiting 1 · held 0 · passed 0",  # Wait
        "waiting 0 · held 0 · passed 0",  # Go To
        "waiting 0 · held 0 · passed 0",  # Message
        "waiting 0 · held 0 · passed 0",  # Terminate
    ]
    wait = page.locator("#diagram .diagram-step[data-kind=Wait] .diagram-counts")
    assert wait.text_content() == "waiting 1 · held 0 · passed 0"
