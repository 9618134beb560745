"""The conversation page in the order one works (settings and triggers, then
threads and steps, one diagram, the report), and the diagram a marketer can
trust: whole names, a link per box, arrows only where contacts go and never
across a box, and a warning when nobody can enter."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from conductor.admin.conversation_page import NO_TRIGGER
from conductor.diagram import version_diagram
from conductor.diagram_routes import BOX_WIDTH, PAD
from conductor.diagram_text import text_width
from conductor.models import ChildEvent, Conversation, Step, StepKind, Thread, Version
from conductor.versions import publish, published_version, working_version
from emails.models import Message
from tests.factories import (
    ConversationFactory,
    MessageFactory,
    TriggerFactory,
    add_step,
    main_thread,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def page_url(conversation: Conversation) -> str:
    return reverse("admin:conductor_conversation_change", args=[conversation.pk])


def welcome(shop, *, trigger: bool = True) -> Conversation:
    """A publishable conversation: a Message, a Wait with a child thread for
    those who opened it, and a Terminate."""
    conversation = ConversationFactory.create(list=shop, name="Welcome")
    if trigger:
        TriggerFactory(conversation=conversation)
    main = main_thread(conversation)
    add_step(main, StepKind.MESSAGE, "Say hello", message=MessageFactory.create(list=shop).pk)
    wait = add_step(main, StepKind.WAIT, "Wait two days", kind="duration", days=2)
    add_step(main, StepKind.TERMINATE, "Done")
    opened = Thread.objects.create(
        version=main.version, name="Opened", parent_step=wait, child_event=ChildEvent.OPENED
    )
    add_step(opened, StepKind.TERMINATE, "Thanks for reading")
    return conversation


# --- Reading the diagram as a browser would ---------------------------------------


@dataclass
class Rect:
    x: float
    y: float
    width: float
    height: float

    def on_border(self, point: tuple[float, float]) -> bool:
        x, y = point
        inside_x = self.x - 0.5 <= x <= self.x + self.width + 0.5
        inside_y = self.y - 0.5 <= y <= self.y + self.height + 0.5
        on_x = abs(x - self.x) < 0.5 or abs(x - self.x - self.width) < 0.5
        on_y = abs(y - self.y) < 0.5 or abs(y - self.y - self.height) < 0.5
        return inside_x and inside_y and (on_x or on_y)

    def crossed_by(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the straight (level or upright) segment a-b enters the box's inside."""
        left, right = sorted((a[0], b[0]))
        top, bottom = sorted((a[1], b[1]))
        return (
            left < self.x + self.width - 1
            and right > self.x + 1
            and top < self.y + self.height - 1
            and bottom > self.y + 1
        )


@dataclass
class Drawn:
    boxes: dict[str, Rect]  # by step key
    kinds: dict[str, str]
    arrows: list[tuple[str, str, str, list[tuple[float, float]]]]  # class, from, to, points
    root: ET.Element


def drawn(html: str) -> Drawn:
    """The one diagram of ``html``, read back as boxes and arrows."""
    svgs = re.findall(r"<svg xmlns=\"http://www.w3.org/2000/svg\".*?</svg>", html, re.S)
    diagrams = [svg for svg in svgs if "data-version" in svg]
    assert len(diagrams) == 1, f"{len(diagrams)} diagrams on the page"
    root = ET.fromstring(diagrams[0])
    boxes, kinds = {}, {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "diagram-step":
            continue
        rect = next(r for r in group.iter(f"{SVG}rect") if r.get("class") == "diagram-box")
        key = group.get("data-step-key", "")
        boxes[key] = Rect(*(float(rect.get(a, "0")) for a in ("x", "y", "width", "height")))
        kinds[key] = group.get("data-kind", "")
    arrows = []
    for path in root.iter(f"{SVG}path"):
        kind = path.get("class", "")
        if kind.startswith("diagram-"):
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
            points = list(zip(numbers[::2], numbers[1::2], strict=True))
            arrows.append((kind, path.get("data-from", ""), path.get("data-to", ""), points))
    return Drawn(boxes, kinds, arrows, root)


def text_of(root: ET.Element, css_class: str) -> list[str]:
    """The text of each element of ``css_class``, its lines joined by spaces."""
    return [
        " ".join(t.text or "" for t in element.iter(f"{SVG}tspan")) or (element.text or "")
        for element in root.iter()
        if element.get("class") == css_class
    ]


def assert_arrows_are_sound(diagram: Drawn) -> None:
    """No arrow leaves a Terminate; each starts on its step's box, ends on
    its target's box, and crosses no box on the way."""
    assert diagram.arrows
    for kind, source, target, points in diagram.arrows:
        assert diagram.kinds[source] != StepKind.TERMINATE, f"a {kind} arrow leaves a Terminate"
        assert diagram.boxes[source].on_border(points[0]), (kind, points)
        assert diagram.boxes[target].on_border(points[-1]), (kind, points)
        for a, b in itertools.pairwise(points):
            assert a[0] == b[0] or a[1] == b[1], "segments run level or upright"
            for key, box in diagram.boxes.items():
                assert not box.crossed_by(a, b), f"a {kind} arrow crosses step {key}'s box"


# --- The page, in order -----------------------------------------------------------


def test_the_page_runs_settings_triggers_threads_diagram_then_report(admin_client, shop):
    conversation = welcome(shop)
    publish(conversation)
    html = admin_client.get(page_url(conversation)).content.decode()
    marks = [
        'id="pause-button"',  # the status buttons, at the top
        'id="id_name"',
        'class="conversation-status"',
        'id="triggers-group"',
        'id="threads"',
        'id="diagram"',
        'id="report"',
    ]
    places = [html.find(mark) for mark in marks]
    assert -1 not in places, dict(zip(marks, places, strict=True))
    assert places == sorted(places), dict(zip(marks, places, strict=True))
    assert 'id="close-button"' in html
    threads = html[html.find('id="threads"') : html.find('id="diagram"')]
    assert "Say hello" in threads and "Opened" in threads
    assert "Working version 2" in threads


def test_one_diagram_the_working_version_and_the_published_one_a_click_away(admin_client, shop):
    conversation = welcome(shop)
    publish(conversation)
    html = admin_client.get(page_url(conversation)).content.decode()
    working = drawn(html)
    assert working.root.get("data-version") == "2"
    assert "?diagram=published#diagram" in html
    assert "The working version 2 is the same as published version 1" in html
    assert "waiting 0" not in html  # counts belong to the published diagram

    published_html = admin_client.get(page_url(conversation), {"diagram": "published"})
    published = drawn(published_html.content.decode())
    assert published.root.get("data-version") == "1"
    assert text_of(published.root, "diagram-counts")[0] == "waiting 0 · held 0 · passed 0"
    assert "?diagram=working#diagram" in published_html.content.decode()


def test_the_line_under_the_diagram_names_what_publishing_would_change(admin_client, shop):
    conversation = welcome(shop)
    version = publish(conversation)
    main = main_thread(conversation)
    wait = main.steps.get(kind=StepKind.WAIT)
    wait.settings = {"kind": "duration", "days": 3}
    wait.save()
    add_step(main, StepKind.TERMINATE, "Spare")
    message = version.steps.get(kind=StepKind.MESSAGE)
    Message.objects.filter(pk=message.settings["message"]).update(subject="A new subject")
    html = admin_client.get(page_url(conversation)).content.decode()
    line = html.split('<p class="diagram-changes">')[1].split("</p>")[0]
    assert line.startswith("The working version 2 differs from published version 1 (")
    assert "Main #2 Wait “Wait two days” changed" in line
    assert "Main #4 Terminate “Spare” added" in line
    name = Message.objects.get(pk=message.settings["message"]).name
    assert f"message “{name}” edited" in line  # since version 1 froze it
    assert line.endswith("publish it to let new contacts in on it.")


def test_the_line_names_removed_steps_new_threads_and_a_new_order(admin_client, shop):
    conversation = welcome(shop)
    publish(conversation)
    main = main_thread(conversation)
    hello, wait, _ = main.steps.order_by("position")
    Step.objects.filter(pk=hello.pk).update(position=1)
    Step.objects.filter(pk=wait.pk).update(position=0)
    main.version.threads.get(name="Opened").delete()  # and its step
    clicked = Thread.objects.create(
        version=main.version, name="Clicked", parent_step=wait, child_event=ChildEvent.CLICKED_ANY
    )
    add_step(clicked, StepKind.TERMINATE)
    html = admin_client.get(page_url(conversation)).content.decode()
    line = html.split('<p class="diagram-changes">')[1].split("</p>")[0]
    for change in [
        "thread Clicked added",
        "thread Opened removed",
        "Clicked #1 Terminate added",
        "Opened #1 Terminate “Thanks for reading” removed",
        "steps of thread Main reordered",
    ]:
        assert change in line, line


def test_a_diagram_that_is_not_there_is_named_not_a_server_error(admin_client, shop):
    conversation = welcome(shop)
    response = admin_client.get(page_url(conversation), {"diagram": "draft"})
    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "No diagram “draft”: ask for the working or the published one.",
    ]
    assert drawn(response.content.decode()).root.get("data-version") == "1"
    unpublished = admin_client.get(page_url(conversation), {"diagram": "published"})
    assert "Nothing is published yet" in unpublished.content.decode()
    assert drawn(unpublished.content.decode()).root.get("data-version") == "1"


# --- The diagram ------------------------------------------------------------------


def branching(shop) -> tuple[Conversation, dict[str, Step]]:
    """Where arrows used to go wrong: a Terminate in the middle of a thread
    (reached past it by a Go To), two child threads off one Wait (the second
    drawn beyond the first), a Go To from a child thread back into the main
    one, and a child thread wrongly hung off a Terminate."""
    conversation = ConversationFactory.create(list=shop)
    main = main_thread(conversation)
    points = shop.profile_fields.get(name="Points")
    criteria = {
        "filters": [
            {
                "segmentationFieldId": points.pk,
                "compareType": "GreaterThan",
                "values": [{"value": "10"}],
            }
        ]
    }
    steps: dict[str, Step] = {}
    steps["hello"] = add_step(main, StepKind.MESSAGE, message=MessageFactory.create(list=shop).pk)
    steps["wait"] = add_step(main, StepKind.WAIT, kind="duration", days=1)
    steps["jump"] = add_step(main, StepKind.GO_TO, target=None, criteria=criteria)
    steps["stop"] = add_step(main, StepKind.TERMINATE, "Most leave here")
    steps["vip"] = add_step(main, StepKind.MESSAGE, message=MessageFactory.create(list=shop).pk)
    steps["end"] = add_step(main, StepKind.TERMINATE)
    Step.objects.filter(pk=steps["jump"].pk).update(
        settings={"target": str(steps["vip"].key), "criteria": criteria}
    )
    version = main.version

    def child(name: str, parent: Step, event: str = ChildEvent.OPENED) -> Thread:
        return Thread.objects.create(
            version=version, name=name, parent_step=parent, child_event=event
        )

    steps["opened"] = add_step(child("Opened", steps["wait"]), StepKind.TERMINATE)
    clicked = child("Clicked", steps["wait"], ChildEvent.CLICKED_ANY)
    steps["clicked"] = add_step(clicked, StepKind.WAIT, kind="duration", days=1)
    steps["back"] = add_step(clicked, StepKind.GO_TO, target=str(steps["vip"].key))
    # Only a hand-made or imported version has this; publishing refuses it.
    steps["stray"] = add_step(child("Off a Terminate", steps["stop"]), StepKind.TERMINATE)
    return conversation, steps


def test_the_diagram_never_draws_an_arrow_out_of_a_terminate(admin_client, shop):
    conversation, steps = branching(shop)
    diagram = drawn(admin_client.get(page_url(conversation)).content.decode())
    assert_arrows_are_sound(diagram)
    arrows = {(kind, source, target) for kind, source, target, _ in diagram.arrows}
    key = {name: str(step.key) for name, step in steps.items()}
    # Contacts go on past a Go To with criteria, never past a Terminate.
    assert ("diagram-next", key["jump"], key["stop"]) in arrows
    assert not [a for a in arrows if a[1] == key["stop"]]
    assert ("diagram-goto", key["jump"], key["vip"]) in arrows
    assert ("diagram-goto", key["back"], key["vip"]) in arrows  # across the columns
    # A Go To without criteria never falls through to a next step either.
    assert not [a for a in arrows if a[0] == "diagram-next" and a[1] == key["back"]]
    assert ("diagram-child", key["wait"], key["opened"]) in arrows
    assert ("diagram-child", key["wait"], key["clicked"]) in arrows  # around "Opened"
    assert not [a for a in arrows if a[2] == key["stray"]]  # no arrow out of the Terminate


def test_the_published_diagram_keeps_its_arrows_sound(admin_client, shop):
    conversation = welcome(shop)
    publish(conversation)
    response = admin_client.get(page_url(conversation), {"diagram": "published"})
    assert_arrows_are_sound(drawn(response.content.decode()))


def test_whole_step_names_are_wrapped_in_their_box_never_cut(admin_client, shop):
    conversation = ConversationFactory.create(list=shop)
    name = (
        "Send the long welcome email: the story of the shop, its founders and a first-order coupon"
    )
    assert len(name) <= 100  # a step name's longest
    add_step(
        main_thread(conversation),
        StepKind.MESSAGE,
        name,
        message=MessageFactory.create(list=shop).pk,
    )
    add_step(main_thread(conversation), StepKind.TERMINATE, "Done")
    html = admin_client.get(page_url(conversation)).content.decode()
    diagram = drawn(html)
    assert text_of(diagram.root, "diagram-name") == [name, "Done"]
    assert text_of(diagram.root, "diagram-kind") == ["Message", "Terminate"]
    assert "…" not in html.split('id="diagram"')[1].split('id="report"')[0]
    lines = [
        t.text or ""
        for e in diagram.root.iter()
        if e.get("class") == "diagram-name"
        for t in e.iter(f"{SVG}tspan")
    ]
    assert len(lines) > 2  # wrapped
    assert all(text_width(line, bold=True) <= BOX_WIDTH - 2 * PAD for line in lines)


def test_each_box_links_to_its_step_page(admin_client, shop):
    conversation = welcome(shop)
    publish(conversation)
    for query, version in [({}, working_version), ({"diagram": "published"}, published_version)]:
        html = admin_client.get(page_url(conversation), query).content.decode()
        shown = version(conversation)
        assert shown is not None
        for step in Step.objects.filter(version=shown):
            url = reverse("admin:conductor_step_change", args=[step.pk])
            assert f'<a class="diagram-step-link" href="{url}">' in html
        for thread in shown.threads.all():
            assert reverse("admin:conductor_thread_change", args=[thread.pk]) in html
    published = Step.objects.filter(version__published_at__isnull=False).first()
    assert published is not None
    step_page = admin_client.get(reverse("admin:conductor_step_change", args=[published.pk]))
    assert step_page.status_code == 200 and "Say hello" in step_page.content.decode()


def test_thirty_steps_in_four_threads_stay_readable(shop):
    conversation = ConversationFactory.create(list=shop)
    main = main_thread(conversation)
    version: Version = main.version
    waits = []
    for index in range(10):
        add_step(
            main,
            StepKind.MESSAGE,
            f"Email number {index}",
            message=MessageFactory.create(list=shop).pk,
        )
        waits.append(add_step(main, StepKind.WAIT, f"Wait {index}", kind="duration", days=1))
    add_step(main, StepKind.GO_TO, "Start again", target=str(main.steps.first().key))
    for name, parent in [("Opened", waits[0]), ("Clicked", waits[0]), ("Late", waits[6])]:
        thread = Thread.objects.create(
            version=version, name=name, parent_step=parent, child_event=ChildEvent.OPENED
        )
        for _ in range(2):
            add_step(thread, StepKind.WAIT, kind="duration", days=1)
        add_step(thread, StepKind.GO_TO, target=str(waits[3].key))
    assert Step.objects.filter(version=version).count() == 30
    html = str(version_diagram(version))
    diagram = drawn(html)
    assert len(diagram.boxes) == 30
    assert_arrows_are_sound(diagram)
    boxes = list(diagram.boxes.values())
    for index, box in enumerate(boxes):  # no two boxes overlap
        for other in boxes[index + 1 :]:
            assert not box.crossed_by((other.x + 2, other.y + 2), (other.x + 2, other.y + 2))
            assert not (
                box.x < other.x + other.width
                and other.x < box.x + box.width
                and box.y < other.y + other.height
                and other.y < box.y + box.height
            )
    # Four columns, shrunk to the page down to three quarters, then scrolled.
    assert len({box.x for box in boxes}) == 4
    width = float(diagram.root.get("width", "0"))
    assert f"min-width:{int(width) * 3 // 4}px" in diagram.root.get("style", "")


# --- Publishing without a trigger -------------------------------------------------


def test_publishing_without_a_trigger_warns_and_still_publishes(admin_client, shop):
    conversation = welcome(shop, trigger=False)
    html = admin_client.get(page_url(conversation)).content.decode()
    assert f'<p class="conversation-warning no-trigger" id="no-trigger">{NO_TRIGGER}</p>' in html
    response = admin_client.post(
        reverse("admin:conductor_conversation_publish", args=[conversation.pk]), follow=True
    )
    said = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert ("warning", NO_TRIGGER) in said
    assert (
        "success",
        "Published version 1. New contacts enter it; contacts already inside keep their version.",
    ) in said
    assert published_version(conversation) is not None
    assert NO_TRIGGER in response.content.decode()  # on the page, too

    TriggerFactory(conversation=conversation)
    again = admin_client.post(
        reverse("admin:conductor_conversation_publish", args=[conversation.pk]), follow=True
    )
    assert NO_TRIGGER not in again.content.decode()
    assert {m.level_tag for m in again.context["messages"]} == {"success"}


def test_publishing_still_refuses_what_can_never_run(admin_client, shop):
    conversation = ConversationFactory.create(list=shop)
    add_step(main_thread(conversation), StepKind.WAIT, kind="duration", days=1)
    response = admin_client.post(
        reverse("admin:conductor_conversation_publish", args=[conversation.pk]), follow=True
    )
    said = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert ("error", "Main does not end in a Terminate step or a Go To without criteria.") in said
    assert ("warning", NO_TRIGGER) not in said  # refused: nothing was published
    assert published_version(conversation) is None


# --- Who may see and change it ----------------------------------------------------


def test_a_viewer_sees_the_page_without_the_editing_buttons(shop):
    conversation = welcome(shop)
    publish(conversation)
    viewer = staff("conductor.view_conversation")
    html = viewer.get(page_url(conversation)).content.decode()
    assert 'id="diagram"' in html and drawn(html).root.get("data-version") == "2"
    assert "button add-step" not in html and "+ Child thread" not in html
    assert 'id="publish-button"' not in html
    refused = viewer.post(reverse("admin:conductor_conversation_publish", args=[conversation.pk]))
    assert refused.status_code == 403
    assert Version.objects.filter(conversation=conversation).count() == 2  # nothing published
    nobody = staff()
    assert nobody.get(page_url(conversation), {"diagram": "published"}).status_code == 403


# --- In a browser ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_published_diagram_is_one_click_and_a_box_opens_its_step(
    live_server, browser_page, shop
):
    from django.contrib.auth import get_user_model

    from tests.browser import log_in

    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    conversation = welcome(shop)
    publish(conversation)
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(live_server.url + page_url(conversation))
    assert page.locator("svg[data-version]").count() == 1
    assert page.locator("#diagram svg").get_attribute("data-version") == "2"
    page.click("a.diagram-switch")
    page.wait_for_selector("#diagram svg[data-version='1']")
    counts = page.locator("#diagram svg .diagram-counts").first.text_content()
    assert counts == "waiting 0 · held 0 · passed 0"
    page.click("#diagram .diagram-step[data-kind='Wait'] a.diagram-step-link")
    page.wait_for_selector("#step_form")
    assert "Wait two days" in page.inner_text("#content")
