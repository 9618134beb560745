"""A marketer builds a saved audience in a real browser, by clicking and
typing only: chooses its list, adds "First Name is Ada" with the filter
builder of Go To steps (no email engagement: an audience belongs to no
conversation), watches the count, saves, and sees the same rows again."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from broadcasts.models import SavedAudience
from contacts.models import SubscriptionState
from tests.browser import log_in
from tests.factories import ContactFactory, ListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_first_name_is_ada_save_and_see_it_again(live_server, browser_page, shop):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    ListFactory(name="Outlet")
    first_name = shop.profile_fields.get(name="First Name")
    for n, name in enumerate(["Ada", "Bob", "Ada"]):
        ContactFactory(list=shop, email=f"c{n}@example.com", profile={first_name.key: name})
    ContactFactory(
        list=shop,
        email="gone@example.com",
        profile={first_name.key: "Ada"},
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/broadcasts/savedaudience/add/")
    page.get_by_role("link", name="Shop").click()

    page.wait_for_selector(".criteria-top")
    count = page.locator(".criteria-count")
    everyone = "Without conditions, the audience would be all 3 subscribed contacts of Shop now."
    expect(count).to_have_text(everyone)
    expect(page.locator(".criteria-empty")).to_have_text(
        "No conditions yet: add one to say who is in this audience."
    )
    add = page.locator(".criteria-top > .criteria-add")
    expect(add.get_by_role("button", name="+ Email engagement")).to_be_hidden()
    page.fill("#id_name", "Adas")
    add.get_by_role("button", name="+ Profile field").click()
    row = page.locator(".criteria-top > .criteria-line").nth(0)
    row.get_by_label("Profile field").select_option(label="First Name")
    row.get_by_label("Value").fill("Ada")
    expect(count).to_have_text("2 subscribed contacts of Shop match now.")

    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    audience = SavedAudience.objects.get()
    assert (audience.name, audience.list) == ("Adas", shop)
    assert audience.criteria == {
        "filters": [
            {"segmentationFieldId": first_name.pk, "compareType": "Equals",
             "values": [{"value": "Ada"}]}
        ]
    }  # fmt: skip

    page.wait_for_selector(".criteria-top .criteria-line")
    row = page.locator(".criteria-top > .criteria-line").nth(0)
    assert row.get_by_label("Profile field").evaluate("s => s.selectedOptions[0].text") == (
        "First Name"
    )
    assert row.get_by_label("Value").input_value() == "Ada"
    expect(count).to_have_text("2 subscribed contacts of Shop match now.")
