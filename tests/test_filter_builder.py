"""The Go To step's filter builder as the server sees it: the data island the
rows are drawn from (fields, operators in words, messages and their links),
saving the JSON the builder writes for every operator, field type and
engagement kind and showing it again, problems handed back to the rows, the
"contacts matching now" count, and the "end of this thread" target."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from conductor.engine.entry import enroll
from conductor.engine.tasks import run_due
from conductor.filters.builder import operators
from conductor.models import (
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
    StepOutcome,
    StepRun,
    Thread,
    Trigger,
)
from conductor.steps.go_to import END
from conductor.transfer import export_version, import_document
from conductor.versions import publish, version_problems, working_version
from contacts.models import ActivityKind, SubscriptionState
from lists.models import DataType, List
from tests.factories import (
    ContactFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    ThreadFactory,
    add_step,
    conversation_with_steps,
    main_thread,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

SALE_LINK = "https://shop.example/sale"
SHOES_LINK = "https://shop.example/shoes"


@pytest.fixture
def every_type(shop: List) -> List:
    """The shop, with a field of each type it lacks."""
    group = shop.profile_fields.get(name="First Name").group
    ProfileFieldFactory(group=group, name="Gift", data_type=DataType.RADIO_BUTTON)
    ProfileFieldFactory(group=group, name="Notes", data_type=DataType.COMMENT_AREA)
    ProfileFieldFactory(group=group, name="Bio", data_type=DataType.CONTENT_BLOCK)
    return shop


@pytest.fixture
def flow(every_type):
    """A conversation sending "Welcome" (two links) then "Reminder"; "News"
    is a message of the list it does not send."""
    welcome = MessageFactory(
        list=every_type,
        name="Welcome",
        html_body=f'<a href="{SALE_LINK}">Sale</a> <a href="{SHOES_LINK}">Shoes</a>',
    )
    reminder = MessageFactory(list=every_type, name="Reminder")
    MessageFactory(list=every_type, name="News")
    conversation, steps = conversation_with_steps(
        every_type,
        (StepKind.MESSAGE, {"message": reminder.pk}),
        (StepKind.MESSAGE, {"message": welcome.pk}),
        (StepKind.TERMINATE, {}),
        name="Welcome series",
    )
    Step.objects.filter(pk=steps[2].pk).update(name="Done")
    return conversation


def add_url(thread: Thread) -> str:
    return reverse("admin:conductor_step_add") + f"?thread={thread.pk}&kind={StepKind.GO_TO}"


def island(page: str) -> dict[str, Any]:
    """The builder's data island of a step page."""
    found = re.search(
        r'<script id="id_criteria_builder_data" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, "the page has no builder data"
    return json.loads(found.group(1))


def criteria_text(page: str) -> str:
    """What the criteria text area (the field the form submits) holds."""
    found = re.search(r'<textarea name="criteria"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert found, "the page has no criteria field"
    return found.group(1).replace("&quot;", '"').replace("&amp;", "&")


def go_to(admin_client, thread: Thread, criteria: object, target: str = END):
    text = json.dumps(criteria) if criteria is not None else ""
    return admin_client.post(add_url(thread), {"name": "", "target": target, "criteria": text})


def saved(thread: Thread) -> Step:
    return thread.steps.order_by("-position")[0]


def test_the_page_offers_the_lists_fields_operators_in_words_and_messages_sent_first(
    admin_client, flow, every_type
):
    page = admin_client.get(add_url(main_thread(flow))).content.decode()
    data = island(page)
    fields = {f["name"]: f["type"] for f in data["fields"]}
    assert fields == {
        "First Name": "Text",
        "Birthday": "Date",
        "Points": "Numeric",
        "VIP": "CheckBox",
        "Gift": "RadioButton",
        "Notes": "CommentArea",
        "Bio": "ContentBlock",
    }

    def words(data_type: str) -> list[str]:
        return [o["words"] for o in data["operators"][data_type]]

    assert words("Text") == [
        "is", "is not", "contains", "does not contain", "is one of", "is none of",
        "is empty", "is not empty",
    ]  # fmt: skip
    assert words("Numeric") == [
        "is", "is not", "is more than", "is at least", "is less than", "is at most",
        "is between", "is not between", "is one of", "is none of", "is empty", "is not empty",
    ]  # fmt: skip
    assert words("Date") == [
        "is on", "is not on", "is after", "is on or after", "is before", "is on or before",
        "is between", "is not between", "is one of", "is none of", "is empty", "is not empty",
    ]  # fmt: skip
    assert words("CheckBox") == ["is checked", "is not checked", "is empty", "is not empty"]
    assert words("RadioButton") == ["is on", "is off", "is empty", "is not empty"]
    between = next(o for o in data["operators"]["Date"] if o["compare"] == "Between")
    assert (between["values"], between["comma"]) == (2, False)
    assert data["inputs"]["Date"] == "date" and data["inputs"]["Numeric"] == "number"
    # The messages this version sends first, in the order it sends them.
    assert [(m["name"], m["sent"]) for m in data["messages"]] == [
        ("Reminder", True),
        ("Welcome", True),
        ("News", False),
    ]
    assert data["messages"][1]["links"] == [SALE_LINK, SHOES_LINK]
    assert [e["words"] for e in data["engagements"]] == [
        "opened", "did not open", "clicked", "did not click", "clicked the link",
        "did not click the link",
    ]  # fmt: skip
    assert [j["words"] for j in data["joins"]] == ["and", "or", "and not", "or not"]
    assert data["countUrl"] == reverse(
        "admin:conductor_conversation_criteria_count", args=[flow.pk]
    )
    assert data["list"] == "Shop" and data["errors"] == []
    assert 'src="/static/conductor/filter_builder.js"' in page


def test_the_target_lists_every_step_by_thread_and_name_and_the_end_of_the_thread(
    admin_client, flow
):
    main = main_thread(flow)
    wait = add_step(main, StepKind.WAIT, kind="duration", days=1)
    child = ThreadFactory(version=main.version, name="Clicked", parent_step=wait)
    add_step(child, StepKind.TERMINATE, name="Bye")
    page = admin_client.get(add_url(main)).content.decode()
    choices = admin_client.get(add_url(main)).context["adminform"].form.fields["target"].choices
    assert choices[:2] == [
        ("", "---------"),
        (END, "The end of this thread: the contact leaves the conversation"),
    ]
    assert [(group, [label for _, label in steps]) for group, steps in choices[2:]] == [
        (
            "Main",
            ["Main step 1: Message", "Main step 2: Message", "Main step 3: Terminate — Done",
             "Main step 4: Wait"],
        ),
        ("Clicked", ["Clicked step 1: Terminate — Bye"]),
    ]  # fmt: skip
    assert "Main step 3: Terminate — Done" in page


# --- Saving what the builder writes, and showing it again -----------------------------------

VALUES = {
    "Text": ("Ada", ["Ada", "Grace"]),
    "CommentArea": ("late", ["late", "early"]),
    "ContentBlock": ("hi", ["hi", "there"]),
    "Numeric": ("12.5", ["3", "20.5"]),
    "Date": ("2024-02-29", ["2024-01-01", "2024-12-31"]),
}
FIELD_OF = {
    "Text": "First Name",
    "CommentArea": "Notes",
    "ContentBlock": "Bio",
    "Numeric": "Points",
    "Date": "Birthday",
    "CheckBox": "VIP",
    "RadioButton": "Gift",
}
CASES = [
    (data_type, operator) for data_type in FIELD_OF for operator in operators(DataType(data_type))
]


def builder_row(field_id: int, operator: dict[str, Any], data_type: str) -> dict[str, Any]:
    """A row as filter_builder.js writes it: the field by id, the operator's
    compareType, one value per input (one text for a comma list)."""
    one, two = VALUES.get(data_type, ("", []))
    values = {0: [], 1: [",".join(two) if operator["comma"] else one], 2: two}[operator["values"]]
    return {
        "segmentationFieldId": field_id,
        "compareType": operator["compare"],
        "values": [{"value": value} for value in values],
    }


@pytest.mark.parametrize(
    ("data_type", "operator"), CASES, ids=[f"{t}-{o['compare']}" for t, o in CASES]
)
def test_each_operator_of_each_field_type_is_saved_as_built_and_shown_again(
    admin_client, flow, every_type, data_type, operator
):
    main = main_thread(flow)
    field = every_type.profile_fields.get(name=FIELD_OF[data_type])
    criteria = {"filters": [builder_row(field.pk, operator, data_type)]}
    response = go_to(admin_client, main, criteria)
    assert response.status_code == 302, response.content.decode()[:3000]
    step = saved(main)
    assert step.settings == {"target": END, "criteria": criteria}
    page = admin_client.get(reverse("admin:conductor_step_change", args=[step.pk]))
    assert json.loads(criteria_text(page.content.decode())) == criteria


def test_each_engagement_kind_joins_and_nested_groups_are_saved_as_built(
    admin_client, flow, every_type
):
    main = main_thread(flow)
    welcome = every_type.messages.get(name="Welcome")
    vip = every_type.profile_fields.get(name="VIP")
    first_name = every_type.profile_fields.get(name="First Name")
    criteria = {
        "filters": [
            {"engagement": "Opened", "message": welcome.pk},
            {"joinType": "And", "engagement": "NotOpened", "message": welcome.pk,
             "withinDays": 7},
            {"joinType": "Or", "engagement": "Clicked", "message": welcome.pk},
            {"joinType": "AndNot", "engagement": "NotClicked", "message": welcome.pk,
             "withinDays": 30},
            {"joinType": "OrNot", "filters": [
                {"engagement": "ClickedLink", "message": welcome.pk, "link": SHOES_LINK},
                {"joinType": "Or", "engagement": "NotClickedLink", "message": welcome.pk,
                 "link": SALE_LINK, "withinDays": 3},
                {"joinType": "And", "filters": [
                    {"segmentationFieldId": vip.pk, "compareType": "Checked", "values": []},
                    {"joinType": "OrNot", "segmentationFieldId": first_name.pk,
                     "compareType": "Equals", "values": [{"value": "Ada"}]},
                ]},
            ]},
        ]
    }  # fmt: skip
    response = go_to(admin_client, main, criteria, target=str(main.steps.first().key))
    assert response.status_code == 302, response.content.decode()[:3000]
    step = saved(main)
    assert step.settings["criteria"] == criteria
    page = admin_client.get(reverse("admin:conductor_step_change", args=[step.pk])).content
    assert json.loads(criteria_text(page.decode())) == criteria
    assert island(page.decode())["errors"] == []


def test_problems_go_back_to_the_builder_with_the_row_they_belong_to(
    admin_client, flow, every_type
):
    main = main_thread(flow)
    points = every_type.profile_fields.get(name="Points")
    welcome = every_type.messages.get(name="Welcome")
    criteria = {
        "filters": [
            {"segmentationFieldId": points.pk, "compareType": "Equals",
             "values": [{"value": "ten"}]},
            {"joinType": "And", "engagement": "ClickedLink", "message": welcome.pk,
             "link": "https://elsewhere.example/"},
        ]
    }  # fmt: skip
    response = go_to(admin_client, main, criteria)
    assert response.status_code == 200
    assert not main.steps.filter(kind=StepKind.GO_TO).exists()
    page = response.content.decode()
    assert island(page)["errors"] == [
        "filters[0].values[0]: Profile field 'Points': 'ten' is not a number.",
        "filters[1].link: 'https://elsewhere.example/' is not a link of message “Welcome” "
        f"(its links: {SALE_LINK}, {SHOES_LINK}).",
    ]
    # What was posted stays in the field, so the rows come back as they were.
    assert json.loads(criteria_text(page)) == criteria


def test_blank_criteria_mean_everyone_and_the_end_target_is_saved(admin_client, flow):
    main = main_thread(flow)
    response = go_to(admin_client, main, None)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert saved(main).settings == {"target": END, "criteria": None}


# --- The count of contacts matching now -----------------------------------------------------


def count_url(conversation) -> str:
    return reverse("admin:conductor_conversation_criteria_count", args=[conversation.pk])


@pytest.fixture
def scored(flow, every_type):
    points = every_type.profile_fields.get(name="Points")
    for n, value in enumerate(["5", "50", "60", "70", ""]):
        ContactFactory(list=every_type, email=f"s{n}@example.com", profile={points.key: value})
    ContactFactory(
        list=every_type,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
        profile={points.key: "99"},
    )
    ContactFactory(list=ListFactory(), email="other@example.com", profile={points.key: "99"})
    return points


def test_the_count_answers_how_many_subscribed_contacts_match_now(admin_client, flow, scored):
    over_49 = {"segmentationFieldId": scored.pk, "compareType": "GreaterThan",
               "values": [{"value": "49"}]}  # fmt: skip
    response = admin_client.get(count_url(flow), {"criteria": json.dumps(over_49)})
    assert response.status_code == 200
    assert response.json() == {"count": 3}
    assert admin_client.get(count_url(flow), {"criteria": ""}).json() == {"count": 5}
    long = {"filters": [over_49] + [{**over_49, "joinType": "And"}] * 60}
    assert admin_client.post(count_url(flow), {"criteria": json.dumps(long)}).json() == {"count": 3}


def test_the_count_says_in_words_what_is_wrong_with_the_criteria(admin_client, flow, scored):
    bad = {"filters": [{"segmentationFieldId": scored.pk, "compareType": "Between",
                        "values": [{"value": "1"}]}]}  # fmt: skip
    response = admin_client.get(count_url(flow), {"criteria": json.dumps(bad)})
    assert response.status_code == 400
    assert response.json() == {
        "error": "filters[0].values: Between needs 2 values, not 1.",
        "problems": ["filters[0].values: Between needs 2 values, not 1."],
    }
    response = admin_client.get(count_url(flow), {"criteria": "{nope"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Criteria are not valid JSON: Expecting")


def test_the_count_needs_the_permission_to_view_conversations(flow, scored):
    assert staff().get(count_url(flow), {"criteria": ""}).status_code == 403
    assert staff("contacts.view_contact").get(count_url(flow)).status_code == 403
    viewer = staff("conductor.view_conversation")
    assert viewer.get(count_url(flow), {"criteria": ""}).json() == {"count": 5}
    editor = staff("conductor.change_conversation")
    assert editor.get(count_url(flow), {"criteria": ""}).json() == {"count": 5}


# --- The end of the thread ------------------------------------------------------------------


def test_contacts_who_go_to_the_end_of_the_thread_leave_the_conversation(shop, smtp_server):
    vip = shop.profile_fields.get(name="VIP")
    first = MessageFactory(list=shop, name="First", subject="First")
    second = MessageFactory(list=shop, name="Second", subject="Second")
    criteria = {"segmentationFieldId": vip.pk, "compareType": "Checked", "values": []}
    conversation, _ = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": first.pk}),
        (StepKind.GO_TO, {"target": END, "criteria": criteria}),
        (StepKind.MESSAGE, {"message": second.pk}),
        (StepKind.TERMINATE, {}),
    )
    assert version_problems(working_version(conversation)) == []
    publish(conversation)
    vip_contact = ContactFactory(list=shop, email="vip@example.com", profile={vip.key: "on"})
    other = ContactFactory(list=shop, email="other@example.com")
    signups = [(c.pk, shop.pk, ActivityKind.SUBSCRIBED, {}) for c in (vip_contact, other)]
    enroll(signups, list(Trigger.objects.all()))
    run_due()
    run_due()
    received = {(m["To"], m["Subject"]) for m in smtp_server.messages}
    assert received == {
        ("vip@example.com", "First"),
        ("other@example.com", "First"),
        ("other@example.com", "Second"),
    }
    left = Enrollment.objects.get(contact=vip_contact)
    assert left.state == EnrollmentState.FINISHED
    run = StepRun.objects.get(enrollment=left, step__kind=StepKind.GO_TO)
    assert (run.outcome, run.details) == (
        StepOutcome.TERMINATED,
        {"reason": "Went to the end of the thread."},
    )
    assert Enrollment.objects.get(contact=other).state == EnrollmentState.FINISHED


def test_publishing_treats_a_go_to_the_end_without_criteria_as_the_end_of_the_thread(shop):
    points = shop.profile_fields.get(name="Points")
    criteria = {"segmentationFieldId": points.pk, "compareType": "IsEmpty", "values": []}
    ends, _ = conversation_with_steps(shop, (StepKind.GO_TO, {"target": END, "criteria": None}))
    assert version_problems(working_version(ends)) == []
    conditional, _ = conversation_with_steps(
        shop, (StepKind.GO_TO, {"target": END, "criteria": criteria})
    )
    assert version_problems(working_version(conditional)) == [
        "Main does not end in a Terminate step or a Go To without criteria."
    ]
    unreachable, _ = conversation_with_steps(
        shop,
        (StepKind.GO_TO, {"target": END, "criteria": None}),
        (StepKind.TERMINATE, {}),
    )
    assert version_problems(working_version(unreachable)) == [
        "Main step 2, Terminate: no step leads here (it follows a Go To)."
    ]


def test_a_conversation_file_keeps_the_end_target(shop):
    points = shop.profile_fields.get(name="Points")
    criteria = {"segmentationFieldId": points.pk, "compareType": "IsEmpty", "values": []}
    conversation, _ = conversation_with_steps(
        shop,
        (StepKind.GO_TO, {"target": END, "criteria": criteria}),
        (StepKind.TERMINATE, {}),
    )
    document = json.loads(json.dumps(export_version(working_version(conversation))))
    go_to_step = next(s for s in document["steps"] if s["kind"] == StepKind.GO_TO)
    assert go_to_step["settings"] == {
        "target": "end",
        "criteria": {"segmentationField": "Points", "compareType": "IsEmpty", "values": []},
    }
    result = import_document(document, list_id=shop.pk)
    copied = Step.objects.get(version__conversation=result.conversation, kind=StepKind.GO_TO)
    assert copied.settings == {"target": END, "criteria": criteria}
    assert result.problems == []
