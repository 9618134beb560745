"""A person in a real browser builds a conversation in the admin: every step
kind, a step dragged into place, a publish refused and then accepted, and
the diagram drawn."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from conductor.models import Conversation, StepKind
from conductor.versions import published_version
from tests.browser import log_in
from tests.factories import EventFactory, MessageFactory, main_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_reorder_publish_and_see_the_diagram(live_server, browser_page, shop):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    MessageFactory(list=shop, name="Welcome mail")
    EventFactory(list=shop, name="Signed up")
    points = shop.profile_fields.get(name="Points")
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    page.goto(f"{live_server.url}/admin/conductor/conversation/add/")
    page.select_option("#id_list", label="Shop")
    page.fill("#id_name", "Welcome series")
    page.click("input[name=_continue]")
    page.wait_for_selector("#publish-button")
    conversation = Conversation.objects.get(name="Welcome series")
    conversation_url = page.url

    # A trigger, chosen from the list's events.
    page.click("#triggers-group .add-row a")
    page.select_option("#id_triggers-0-kind", "ExternalEvent")
    page.select_option("#id_triggers-0-event", label="Signed up")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    def add(kind_label: str) -> None:
        page.click(f"a.add-step:text-is('+ {kind_label}')")
        page.wait_for_selector("#step_form")

    def save_step() -> None:
        page.click("input[name=_save]")
        page.wait_for_selector("#thread_form")  # back on the thread's page

    add("Message")
    page.select_option("#id_message", label="Welcome mail")
    save_step()
    add("Action")
    page.select_option("#id_action", "SetValue")
    assert page.is_hidden("#id_weights")  # only the chosen action's fields show
    page.select_option("#id_value_field", label="Points")
    page.fill("#id_value", "5")
    save_step()
    add("Wait")
    page.select_option("#id_rule", "duration")
    page.fill("#id_days", "2")
    save_step()

    # Drag the Wait (third) above the Action (second): the move is saved at once.
    rows = page.locator(".step-order-item")
    assert rows.evaluate_all("els => els.map(el => el.dataset.name)") == [
        "Message",
        "Action",
        "Wait",
    ]
    page.drag_and_drop(".step-order-item[data-name=Wait]", ".step-order-item[data-name=Action]")
    page.wait_for_selector(".step-order-status:text('Saved.')")
    assert rows.evaluate_all("els => els.map(el => el.dataset.name)") == [
        "Message",
        "Wait",
        "Action",
    ]
    main = main_thread(conversation)
    assert [s.kind for s in main.steps.order_by("position")] == [
        StepKind.MESSAGE,
        StepKind.WAIT,
        StepKind.ACTION,
    ]

    # Publishing is refused: the thread does not end in a Terminate.
    page.goto(conversation_url)
    page.click("#publish-button")
    page.wait_for_selector(".messagelist .error")
    assert "does not end in a Terminate step" in page.inner_text(".messagelist")
    assert published_version(conversation) is None

    # Fix it: a Go To back to the message for high scorers, then a Terminate.
    add("Go To")
    page.select_option("#id_target", label="Main step 1: Message")
    criteria = {
        "filters": [
            {
                "segmentationFieldId": points.pk,
                "compareType": "GreaterThan",
                "values": [{"value": "100"}],
            }
        ]
    }
    page.click("button.criteria-toggle")  # the filter builder's JSON, for power users
    page.fill("#id_criteria", json.dumps(criteria))
    save_step()
    page.click("a.add-step:text-is('+ Terminate')")
    page.wait_for_selector("#step_form")
    save_step()

    page.goto(conversation_url)
    page.click("#publish-button")
    page.wait_for_selector(".messagelist .success")
    assert "Published version 1." in page.inner_text(".messagelist")
    assert published_version(conversation).number == 1

    # One diagram, the new working copy's; the published one is a click away.
    assert page.locator(".conductor-diagram").count() == 1
    working = page.locator("#diagram svg")
    assert working.get_attribute("data-version") == "2"
    assert working.locator(".diagram-step").count() == 5
    assert "is the same as published version 1" in page.inner_text(".diagram-changes")
    page.click("a.diagram-switch")
    page.wait_for_selector("#diagram svg[data-version='1']")  # the page it leads to
    published = page.locator("#diagram svg[data-version='1']")
    assert published.locator(".diagram-step").count() == 5
    assert published.locator(".diagram-goto").count() == 1
    assert "waiting 0" in (published.text_content() or "")
    # A box opens its step's page.
    published.locator(".diagram-step-link").first.click()
    page.wait_for_selector("#step_form")
    assert "Welcome mail" in page.inner_text("#content")
