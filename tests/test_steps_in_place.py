"""Steps edited where they are: a Message step's "+" writes a new message of
the conversation's list in a popup and comes back with it chosen (the pencil
opens the chosen one), each link only for those allowed; and a thread's steps
moved in place, by dragging or with "Move up" / "Move down", each move saved
at once, refused in words when it cannot be."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conductor.models import Step, StepKind, Thread
from conductor.versions import publish, working_version
from emails.models import Message
from tests.browser import log_in, write_body
from tests.factories import (
    ListFactory,
    MessageFactory,
    add_step,
    conversation_with_steps,
    main_thread,
)
from tests.staff import staff

MOVE_URL = "/admin/conductor/step/move/"


def message_step_url(thread: Thread) -> str:
    return reverse("admin:conductor_step_add") + f"?thread={thread.pk}&kind={StepKind.MESSAGE}"


def names(thread: Thread) -> list[str]:
    return [step.name for step in thread.steps.order_by("position")]


def four_steps(shop):
    """Welcome, Two days, Jump (a Go To to Done), Done: the Go To names its target by number."""
    conversation, (welcome, wait, jump, done) = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": MessageFactory(list=shop, name="Hi").pk, "variants": []}),
        (StepKind.WAIT, {"kind": "duration", "days": 2}),
        (StepKind.GO_TO, {"target": None, "criteria": None}),
        (StepKind.TERMINATE, {}),
        name="Welcome series",
    )
    for step, name in [(welcome, "Welcome"), (wait, "Two days"), (jump, "Jump"), (done, "Done")]:
        step.name = name
        step.save()
    jump.settings["target"] = str(done.key)
    jump.save()
    return conversation, main_thread(conversation)


def move(client, step: Step, position: object, thread: Thread | None = None):
    data = {"step": step.pk, "thread": (thread or step.thread).pk, "position": position}
    return client.post(MOVE_URL, data)


# --- The "+" and pencil beside a step's choice of message -------------------------


@pytest.mark.django_db
def test_the_message_choices_open_the_message_page_preset_to_the_list(shop):
    conversation, _ = conversation_with_steps(shop, name="Welcome series")
    client = staff(
        "conductor.add_step", "conductor.change_step", "emails.add_message", "emails.change_message"
    )
    page = client.get(message_step_url(main_thread(conversation))).content.decode()
    params = f"_to_field=id&amp;_popup=1&amp;list={shop.pk}"
    assert 'id="add_id_message"' in page
    assert f'href="/admin/emails/message/add/?{params}"' in page
    assert f'data-href-template="/admin/emails/message/__fk__/change/?{params}"' in page
    variant = next(iter(re.findall(r'id="add_id_(variant_\d+)"', page)))
    assert f'id="change_id_{variant}"' in page
    assert "+ writes a new message for this conversation's list" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("emails_permissions", "plus", "pencil"),
    [
        (["emails.add_message"], True, False),
        (["emails.view_message"], False, True),
        (["emails.change_message"], False, True),
        ([], False, False),
    ],
)
def test_each_link_shows_only_to_those_allowed_to_use_it(shop, emails_permissions, plus, pencil):
    conversation, _ = conversation_with_steps(shop)
    client = staff("conductor.add_step", *emails_permissions)
    page = client.get(message_step_url(main_thread(conversation))).content.decode()
    assert ('id="add_id_message"' in page) is plus
    assert ('id="change_id_message"' in page) is pencil


@pytest.mark.django_db
def test_the_message_page_refuses_those_without_the_right_even_from_a_step(shop):
    url = reverse("admin:emails_message_add") + f"?_to_field=id&_popup=1&list={shop.pk}"
    refused = staff("conductor.add_step", "emails.view_message").post(
        url, {"_popup": "1", "list": shop.pk, "name": "Sneaky", "subject": "Hi"}
    )
    assert refused.status_code == 403
    assert not Message.objects.filter(name="Sneaky").exists()


@pytest.mark.django_db
def test_the_popup_locks_the_list_and_answers_with_the_new_message(shop):
    other = ListFactory(name="Other shop")
    client = staff("emails.add_message")
    url = reverse("admin:emails_message_add") + f"?_to_field=id&_popup=1&list={shop.pk}"
    form = client.get(url).context["adminform"].form
    assert form.fields["list"].disabled
    assert "Set by the page that opened this window" in form.fields["list"].help_text
    page = client.get(url).content.decode()
    assert "First Name" in page  # the list's merge fields, before any save
    # A list sent anyway is ignored: the message is the conversation's list's.
    response = client.post(
        url,
        {"_popup": "1", "_to_field": "id", "list": other.pk, "name": "Spring sale"}
        | {"subject": "Spring is here", "text_body": "Hello"},
    )
    message = Message.objects.get(name="Spring sale")
    assert message.list == shop
    popup = response.content.decode()
    assert "popup_response.js" in popup and f"&quot;value&quot;: &quot;{message.pk}&quot;" in popup


@pytest.mark.django_db
def test_the_pencil_opens_the_message_with_its_list_locked_and_only_the_right_changes_it(shop):
    message = MessageFactory(list=shop, name="Hi")
    other = ListFactory(name="Other shop")
    url = (
        reverse("admin:emails_message_change", args=[message.pk])
        + f"?_to_field=id&_popup=1&list={shop.pk}"
    )
    data = {"_popup": "1", "_to_field": "id", "list": other.pk, "subject": "Hello"}
    editor = staff("emails.change_message")
    assert '<div class="readonly locked-list">Shop</div>' in editor.get(url).content.decode()
    answer = editor.post(url, data | {"name": "Hi again", "text_body": "Hello"})
    assert "popup_response.js" in answer.content.decode()
    message.refresh_from_db()
    assert (message.name, message.list) == ("Hi again", shop)
    viewer = staff("emails.view_message")
    shown = viewer.get(url)
    assert shown.status_code == 200 and 'name="name"' not in shown.content.decode()  # read-only
    refused = viewer.post(url, data | {"name": "Renamed", "text_body": "Hello"})
    assert refused.status_code == 403
    message.refresh_from_db()
    assert message.name == "Hi again"


@pytest.mark.django_db
def test_list_presets_the_list_outside_a_popup_and_a_bad_one_is_ignored(shop):
    client = staff("emails.add_message")
    form = (
        client.get(reverse("admin:emails_message_add") + f"?list={shop.pk}")
        .context["adminform"]
        .form
    )
    assert not form.fields["list"].disabled
    assert str(form["list"].value()) == str(shop.pk)
    for bad in ("abc", "999999", "-1"):
        url = reverse("admin:emails_message_add") + f"?_popup=1&list={bad}"
        response = client.get(url)
        assert response.status_code == 200
        assert not response.context["adminform"].form.fields["list"].disabled


# --- Moving a step in its thread -------------------------------------------------


@pytest.mark.django_db
def test_a_step_moves_anywhere_in_its_thread_and_the_summaries_follow(shop):
    _, thread = four_steps(shop)
    client = staff("conductor.change_step", "conductor.view_thread")
    done = thread.steps.get(name="Done")
    response = move(client, done, 2)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["message"] == "Moved “Done” to position 2 of Main. Saved."
    assert names(thread) == ["Welcome", "Done", "Two days", "Jump"]
    assert list(thread.steps.order_by("position").values_list("position", flat=True)) == [
        0,
        1,
        2,
        3,
    ]
    listed = answer["lists"][str(thread.pk)]
    order = re.findall(r'data-name="([^"]+)"', listed)
    assert order == ["Welcome", "Done", "Two days", "Jump"]
    assert "to Main #2 (everyone)" in listed  # the Go To names Done's new number
    assert "to Main #2 (everyone)" in answer["diagram"] and "<svg" in answer["diagram"]
    # The thread's page shows it so too.
    page = client.get(reverse("admin:conductor_thread_change", args=[thread.pk]))
    assert re.findall(r'data-name="([^"]+)"', page.content.decode()) == order


@pytest.mark.django_db
def test_moves_out_of_range_or_not_numbers_are_refused_in_words(shop):
    _, thread = four_steps(shop)
    client = staff("conductor.change_step")
    jump = thread.steps.get(name="Jump")
    for position in (0, 5, -1):
        refused = move(client, jump, position)
        assert refused.status_code == 400
        assert refused.json()["error"] == (
            f"Position {position} is out of range: Main has 4 steps, so a step can go to 1 to 4."
        )
    assert move(client, jump, "second").json()["error"] == (
        "The position “second” is not a whole number."
    )
    missing = client.post(MOVE_URL, {"step": jump.pk, "thread": thread.pk})
    assert missing.json()["error"] == "Say which position to move (“position” is missing)."
    gone = client.post(MOVE_URL, {"step": 987654, "thread": thread.pk, "position": 1})
    assert "That step no longer exists" in gone.json()["error"]
    assert client.get(MOVE_URL).status_code == 405
    assert names(thread) == ["Welcome", "Two days", "Jump", "Done"]


@pytest.mark.django_db
def test_moves_into_another_thread_or_version_or_in_a_published_one_are_refused(shop):
    conversation, thread = four_steps(shop)
    client = staff("conductor.change_step")
    wait = thread.steps.get(name="Two days")
    child = Thread.objects.create(
        version=thread.version, name="Opened", parent_step=wait, child_event="Opened", position=1
    )
    add_step(child, StepKind.TERMINATE, name="Bye")
    refused = move(client, wait, 1, thread=child)
    assert refused.json()["error"] == (
        "“Two days” is a step of Main; it cannot move into Opened. "
        "Steps move only within their own thread."
    )
    published = publish(conversation)  # version 1 frozen; version 2 is the working copy
    frozen_main = published.threads.get(is_main=True)
    working_main = working_version(conversation).threads.get(is_main=True)
    across = move(client, working_main.steps.get(name="Done"), 1, thread=frozen_main)
    assert across.status_code == 400
    assert across.json()["error"] == (
        "“Done” is a step of version 2; it cannot move into version 1. "
        "Steps move only within their own version."
    )
    frozen = move(client, frozen_main.steps.get(name="Done"), 1)
    assert frozen.json()["error"] == (
        "Version 1 is published and never changes. Move steps in the working version."
    )
    assert names(frozen_main) == ["Welcome", "Two days", "Jump", "Done"]
    assert names(working_main) == ["Welcome", "Two days", "Jump", "Done"]
    # The working copy moves, and now differs from what is published.
    moved = move(client, working_main.steps.get(name="Done"), 1)
    assert "differs from published version 1" in moved.json()["changes"]
    assert names(working_main) == ["Done", "Welcome", "Two days", "Jump"]


@pytest.mark.django_db
def test_moving_a_step_needs_the_right_to_change_steps_or_conversations(shop):
    _, thread = four_steps(shop)
    done = thread.steps.get(name="Done")
    viewer = staff("conductor.view_step", "conductor.view_conversation", "conductor.view_thread")
    refused = move(viewer, done, 1)
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "Moving steps needs the permission to change steps or conversations."
    )
    assert names(thread) == ["Welcome", "Two days", "Jump", "Done"]
    # Nor are they offered the handles and buttons.
    page = viewer.get(reverse("admin:conductor_thread_change", args=[thread.pk])).content
    assert b"data-move-url" not in page and b'class="step-move"' not in page
    assert b"Two days" in page
    assert move(staff("conductor.change_conversation"), done, 1).status_code == 200
    assert names(thread) == ["Done", "Welcome", "Two days", "Jump"]
    signed_out = move(type(viewer)(), done, 2)
    assert signed_out.status_code == 302 and "/login/" in signed_out["Location"]


@pytest.mark.django_db
def test_a_published_threads_page_lists_its_steps_without_moving_them(shop):
    conversation, _ = four_steps(shop)
    frozen_main = publish(conversation).threads.get(is_main=True)
    page = staff("conductor.change_step", "conductor.change_thread").get(
        reverse("admin:conductor_thread_change", args=[frozen_main.pk])
    )
    html = page.content.decode()
    assert re.findall(r'data-name="([^"]+)"', html) == ["Welcome", "Two days", "Jump", "Done"]
    assert "data-move-url" not in html


# --- In a real browser ------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_message_is_written_from_its_step_in_a_popup_and_comes_back_chosen(
    live_server, browser_page, shop
):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    conversation, _ = conversation_with_steps(shop, name="Welcome series")
    thread = main_thread(conversation)
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(live_server.url + message_step_url(thread))
    assert page.locator("#id_message option").all_inner_texts() == ["---------"]

    with page.expect_popup() as opened:
        page.click("#add_id_message")
    popup = opened.value
    popup.wait_for_selector("#id_name")
    assert popup.locator(".field-list .locked-list").inner_text() == "Shop"  # shown, not chosen
    assert popup.locator("select#id_list").count() == 0
    popup.fill("#id_name", "Spring sale")
    popup.fill("#id_subject", "Spring is here, {{ profile.first_name }}")
    write_body(popup, "html_body", "<p>Hello {{ profile.first_name }}</p>")
    with popup.expect_event("close"):
        popup.click("input[name=_save]")

    assert page.locator("#id_message option:checked").inner_text() == "Spring sale"
    variant = page.locator("select[id^=id_variant_]").first
    assert "Spring sale" in variant.locator("option").all_inner_texts()  # offered there too
    assert variant.locator("option:checked").inner_text() == "---------"

    # The pencil opens it; a new name comes back into the choice.
    with page.expect_popup() as opened:
        page.click("#change_id_message")
    popup = opened.value
    popup.wait_for_selector("#id_name")
    popup.fill("#id_name", "Spring sale 2026")
    with popup.expect_event("close"):
        popup.click("input[name=_save]")
    assert page.locator("#id_message option:checked").inner_text() == "Spring sale 2026"

    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist :text('Added Message step to Main.')")
    message = Message.objects.get(name="Spring sale 2026")
    assert message.list == shop
    step = thread.steps.get(kind=StepKind.MESSAGE)
    assert step.settings == {"message": message.pk, "variants": []}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_dragged_step_is_saved_at_once_and_the_summaries_follow(live_server, browser_page, shop):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    _, thread = four_steps(shop)
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    thread_url = live_server.url + reverse("admin:conductor_thread_change", args=[thread.pk])
    page.goto(thread_url)
    items = ".step-order-item"

    def order() -> list[str]:
        return page.locator(items).evaluate_all("els => els.map(el => el.dataset.name)")

    def jump_summary() -> str:
        return page.locator(f"{items}[data-name=Jump] .step-order-summary").inner_text()

    assert order() == ["Welcome", "Two days", "Jump", "Done"]
    assert jump_summary() == "to Main #4 (everyone)"

    page.drag_and_drop(f"{items}[data-name=Done]", f"{items}[data-name='Two days']")
    page.wait_for_selector(".step-order-status:text('Saved.')")
    assert order() == ["Welcome", "Done", "Two days", "Jump"]
    assert jump_summary() == "to Main #2 (everyone)"  # drawn again, no reload
    assert "Moved “Done” to position 2 of Main." in page.inner_text(".step-order-status")
    assert names(thread) == ["Welcome", "Done", "Two days", "Jump"]

    # Without a mouse: the keyboard reaches "Move down", and the focus stays with the step.
    page.focus(f"{items}[data-name=Welcome] .step-move[data-move=down]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".step-order-status:text('position 2 of Main')")
    assert order() == ["Done", "Welcome", "Two days", "Jump"]
    assert jump_summary() == "to Main #1 (everyone)"
    focused = page.evaluate("document.activeElement.closest('.step-order-item').dataset.name")
    assert focused == "Welcome"

    page.reload()
    assert order() == ["Done", "Welcome", "Two days", "Jump"]
    assert jump_summary() == "to Main #1 (everyone)"
