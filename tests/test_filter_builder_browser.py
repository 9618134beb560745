"""A marketer builds Go To criteria with the filter builder in a real
browser, by clicking and typing only: "First Name is Ada and opened
Welcome", watching the count of matching contacts change, then saves and
sees the same rows again."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from conductor.models import Step, StepKind
from conductor.steps.go_to import END
from tests.browser import log_in
from tests.factories import ContactFactory, MessageFactory, conversation_with_steps, main_thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_first_name_is_ada_and_opened_welcome_save_and_see_it_again(
    live_server, browser_page, shop
):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    welcome = MessageFactory(list=shop, name="Welcome")
    conversation, _ = conversation_with_steps(
        shop, (StepKind.MESSAGE, {"message": welcome.pk}), (StepKind.TERMINATE, {})
    )
    first_name = shop.profile_fields.get(name="First Name")
    for name in ("Ada", "Bob", "Ada"):
        ContactFactory(
            list=shop, email=f"{name.lower()}{ContactFactory._meta.model.objects.count()}@ex.com",
            profile={first_name.key: name},
        )  # fmt: skip
    main = main_thread(conversation)
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/conductor/step/add/?thread={main.pk}&kind=GoTo")
    page.wait_for_selector(".criteria-top")
    count = page.locator(".criteria-count")
    assert page.is_hidden("#id_criteria")  # the rows, not the JSON
    expect(count).to_have_text("Every contact goes: 3 subscribed contacts of Shop now.")
    page.select_option("#id_target", label="Main step 2: Terminate")

    top = page.locator(".criteria-top")
    rows = top.locator(":scope > .criteria-line")
    top.locator(":scope > .criteria-add").get_by_role("button", name="+ Profile field").click()
    rows.nth(0).get_by_label("Profile field").select_option(label="First Name")
    assert rows.nth(0).get_by_label("Operator").evaluate("s => s.selectedOptions[0].text") == "is"
    rows.nth(0).get_by_label("Value").fill("Ada")
    expect(count).to_have_text("2 subscribed contacts of Shop match now.")

    top.locator(":scope > .criteria-add").get_by_role("button", name="+ Email engagement").click()
    second = rows.nth(1)
    assert second.get_by_label("Join").evaluate("s => s.selectedOptions[0].text") == "and"
    assert second.get_by_label("Engagement").evaluate("s => s.selectedOptions[0].text") == (
        "opened"
    )
    assert second.get_by_label("Message").evaluate("s => s.selectedOptions[0].text") == "Welcome"
    expect(count).to_have_text("0 subscribed contacts of Shop match now.")

    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    step = Step.objects.get(thread=main, kind=StepKind.GO_TO)
    assert step.settings == {
        "target": str(main.steps.get(kind=StepKind.TERMINATE).key),
        "criteria": {
            "filters": [
                {"segmentationFieldId": first_name.pk, "compareType": "Equals",
                 "values": [{"value": "Ada"}]},
                {"joinType": "And", "engagement": "Opened", "message": welcome.pk},
            ]
        },
    }  # fmt: skip

    # Reloaded, the page shows the same rows.
    page.reload()
    page.wait_for_selector(".criteria-top .criteria-line")
    rows = page.locator(".criteria-top > .criteria-line")
    assert rows.count() == 2
    selected = "s => s.selectedOptions[0].text"
    assert rows.nth(0).get_by_label("Profile field").evaluate(selected) == "First Name"
    assert rows.nth(0).get_by_label("Operator").evaluate(selected) == "is"
    assert rows.nth(0).get_by_label("Value").input_value() == "Ada"
    assert rows.nth(1).get_by_label("Join").evaluate(selected) == "and"
    assert rows.nth(1).get_by_label("Engagement").evaluate(selected) == "opened"
    assert rows.nth(1).get_by_label("Message").evaluate(selected) == "Welcome"

    # Power users see the JSON the form saves; changing the target to the end saves too.
    page.get_by_role("button", name="Edit as JSON").click()
    assert page.is_visible("#id_criteria")
    assert json.loads(page.input_value("#id_criteria")) == step.settings["criteria"]
    page.select_option(
        "#id_target", label="The end of this thread: the contact leaves the conversation"
    )
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    step.refresh_from_db()
    assert step.settings["target"] == END
