"""The Conductor admin as the workflow editor: conversations, per-kind step
forms writing the settings the step units read, publishing, the diagram,
per-step counts, coupon uploads and held enrollments."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conductor.models import (
    Conversation,
    CouponPool,
    EnrollmentState,
    Step,
    StepKind,
    Thread,
    TriggerKind,
)
from conductor.versions import create_conversation, publish, working_version
from lists.models import DataType
from tests.factories import (
    CouponFactory,
    CouponPoolFactory,
    EnrollmentFactory,
    EventFactory,
    MessageFactory,
    ProfileFieldFactory,
    StepRunFactory,
    ThreadFactory,
    main_thread,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(shop):
    return create_conversation(email_list=shop, name="Welcome")


@pytest.fixture
def main(conversation) -> Thread:
    return main_thread(conversation)


def field(shop, name: str):
    return shop.profile_fields.get(name=name)


def add_step(client, thread: Thread, kind: str, **data):
    url = reverse("admin:conductor_step_add") + f"?thread={thread.pk}&kind={kind}"
    return client.post(url, {"name": "", **data})


def added(thread: Thread) -> Step:
    step = thread.steps.order_by("-position").first()
    assert step is not None, "the thread has no step"
    return step


def terminate(client, thread: Thread) -> Step:
    response = add_step(client, thread, StepKind.TERMINATE)
    assert response.status_code == 302, response.content.decode()[:2000]
    return added(thread)


def test_a_conversation_is_added_with_its_working_version_and_main_thread(admin_client, shop):
    response = admin_client.post(
        reverse("admin:conductor_conversation_add"), {"list": shop.pk, "name": "Welcome"}
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get(name="Welcome")
    version = working_version(conversation)
    assert version.threads.get().is_main
    listing = admin_client.get(reverse("admin:conductor_conversation_changelist")).content.decode()
    assert "Welcome" in listing and "Unpublished" in listing


def test_triggers_are_edited_inline_with_events_of_the_list_only(admin_client, shop, conversation):
    cart = EventFactory(list=shop, name="Cart abandoned")
    EventFactory(name="Other list's event")
    url = reverse("admin:conductor_conversation_change", args=[conversation.pk])
    page = admin_client.get(url).content.decode()
    assert "Cart abandoned" in page and "Other list&#x27;s event" not in page
    data = {
        "name": "Welcome",
        "triggers-TOTAL_FORMS": "2",
        "triggers-INITIAL_FORMS": "0",
        "triggers-0-kind": TriggerKind.EXTERNAL_EVENT,
        "triggers-0-event": cart.pk,
        "triggers-1-kind": TriggerKind.SUBSCRIBE,
        "triggers-1-event": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert {(t.kind, t.event_id) for t in conversation.triggers.all()} == {
        (TriggerKind.EXTERNAL_EVENT, cart.pk),
        (TriggerKind.SUBSCRIBE, None),
    }


def test_each_kind_of_step_is_saved_as_the_settings_its_unit_reads(admin_client, shop, main):
    welcome = MessageFactory(list=shop)
    pool = CouponPoolFactory(list=shop)
    event = EventFactory(list=shop, name="Welcomed")
    birthday, points = field(shop, "Birthday"), field(shop, "Points")
    first_name = field(shop, "First Name")
    code = ProfileFieldFactory(group=first_name.group, name="Coupon code")

    def ok(kind: str, **data) -> dict:
        response = add_step(admin_client, main, kind, **data)
        assert response.status_code == 302, response.content.decode()[:3000]
        return added(main).settings

    assert ok(StepKind.MESSAGE, message=welcome.pk) == {"message": welcome.pk, "variants": []}
    coupon = ok(StepKind.ACTION, action="SetCoupon", pool=pool.pk, coupon_field=code.pk)
    assert coupon == {"action": "SetCoupon", "pool": pool.pk, "field": code.pk}
    value = ok(StepKind.ACTION, action="SetValue", value_field=points.pk, value=" 10.50 ")
    assert value == {"action": "SetValue", "field": points.pk, "value": "10.5"}
    cleared = ok(StepKind.ACTION, action="SetValue", value_field=first_name.pk, clear_value="on")
    assert cleared == {"action": "SetValue", "field": first_name.pk, "value": None}
    set_date = ok(StepKind.ACTION, action="SetDate", date_field=birthday.pk, offset_days="-3")
    assert set_date == {"action": "SetDate", "field": birthday.pk, "offset_days": -3}
    between = ok(
        StepKind.ACTION,
        action="DaysBetween",
        days_field=points.pk,
        since_field=birthday.pk,
        unit="weeks",
    )
    assert between == {
        "action": "DaysBetween",
        "field": points.pk,
        "other_field": birthday.pk,
        "unit": "weeks",
    }
    split = ok(StepKind.ACTION, action="SplitTest", split_field=points.pk, weights="50, 25,25")
    assert split == {"action": "SplitTest", "field": points.pk, "weights": [50, 25, 25]}
    assert ok(StepKind.ACTION, action="FireEvent", event=event.pk) == {
        "action": "FireEvent",
        "event": event.pk,
    }
    assert ok(StepKind.WAIT, rule="duration", days="2", hours="", minutes="30") == {
        "kind": "duration",
        "days": 2,
        "hours": 0,
        "minutes": 30,
    }
    assert ok(StepKind.WAIT, rule="fixed_date", date="2030-12-24", time="9:00") == {
        "kind": "fixed_date",
        "date": "2030-12-24",
        "time": "09:00",
    }
    assert ok(
        StepKind.WAIT, rule="profile_date", date_field=birthday.pk, offset_days="-3", time="08:30"
    ) == {"kind": "profile_date", "field_id": birthday.pk, "offset_days": -3, "time": "08:30"}
    assert ok(
        StepKind.WAIT,
        rule="anniversary",
        date_field=birthday.pk,
        mode="nth_weekday",
        nth="-1",
        weekday="friday",
        next_year_if_passed="on",
        offset_days="1",
        time="10:00",
    ) == {
        "kind": "anniversary",
        "field_id": birthday.pk,
        "mode": "nth_weekday",
        "nth": -1,
        "weekday": "friday",
        "next_year_if_passed": True,
        "offset_days": 1,
        "time": "10:00",
    }
    first = main.steps.order_by("position").first()
    criteria = json.dumps(
        {
            "filters": [
                {
                    "segmentationFieldId": points.pk,
                    "compareType": "GreaterThan",
                    "values": [{"value": "5"}],
                }
            ]
        }
    )
    goto = ok(StepKind.GO_TO, target=str(first.key), criteria=criteria)
    assert goto["target"] == str(first.key)
    assert goto["criteria"]["filters"][0]["segmentationFieldId"] == points.pk
    assert ok(StepKind.GO_TO, target=str(first.key), criteria="") == {
        "target": str(first.key),
        "criteria": None,
    }
    assert ok(StepKind.TERMINATE) == {}
    assert list(main.steps.order_by("position").values_list("position", flat=True)) == list(
        range(main.steps.count())
    )


def test_a_step_page_shows_its_saved_settings_and_saves_a_change(admin_client, shop, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="2")
    step = added(main)
    url = reverse("admin:conductor_step_change", args=[step.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="days" value="2"' in page
    response = admin_client.post(url, {"name": "Pause", "rule": "duration", "hours": "5"})
    assert response.status_code == 302
    step.refresh_from_db()
    assert (step.name, step.settings["hours"], step.settings["days"]) == ("Pause", 5, 0)


@pytest.mark.parametrize(
    ("kind", "data", "field_name", "words"),
    [
        (StepKind.WAIT, {"rule": "duration"}, "days", "longer than zero"),
        (StepKind.WAIT, {"rule": "fixed_date", "date": "2030-01-01"}, "time", "time is required"),
        (
            StepKind.WAIT,
            {"rule": "anniversary", "mode": "anniversary", "offset_days": "400", "time": "9:00"},
            "offset_days",
            "offset_days must be",
        ),
        (StepKind.ACTION, {"action": "SplitTest", "weights": "5"}, "weights", "weights are"),
        (StepKind.ACTION, {"action": "SetValue"}, "value", "Give a value"),
        (StepKind.MESSAGE, {}, "message", "choose the message"),
        (StepKind.GO_TO, {}, "target", "choose the step to go to"),
        (StepKind.GO_TO, {"criteria": "{not json"}, "criteria", "not valid JSON"),
    ],
)
def test_a_bad_setting_is_shown_on_its_field(admin_client, main, kind, data, field_name, words):
    response = add_step(admin_client, main, kind, **data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field_name in errors, errors
    assert words in " ".join(errors[field_name])
    assert not main.steps.exists()


def test_go_to_criteria_are_checked_against_the_lists_fields(admin_client, shop, main):
    terminate(admin_client, main)
    target = added(main)
    criteria = '{"filters": [{"segmentationField": "Shoe size", "compareType": "Equals"}]}'
    response = add_step(admin_client, main, StepKind.GO_TO, target=target.key, criteria=criteria)
    assert response.status_code == 200
    assert "criteria" in response.context["adminform"].form.errors


def test_profile_fields_are_offered_from_the_conversations_list_only(admin_client, shop, main):
    elsewhere = ProfileFieldFactory(name="Elsewhere date", data_type=DataType.DATE)
    url = reverse("admin:conductor_step_add") + f"?thread={main.pk}&kind={StepKind.WAIT}"
    form = admin_client.get(url).context["adminform"].form
    offered = set(form.fields["date_field"].queryset)
    assert offered == {field(shop, "Birthday")} and elsewhere not in offered
    response = add_step(
        admin_client, main, StepKind.WAIT, rule="profile_date", date_field=elsewhere.pk, time="9:00"
    )
    assert "date_field" in response.context["adminform"].form.errors


def test_publishing_is_refused_with_every_problem_shown(admin_client, shop, conversation, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="1")
    url = reverse("admin:conductor_conversation_publish", args=[conversation.pk])
    response = admin_client.post(url, follow=True)
    page = response.content.decode()
    assert "does not end in a Terminate step" in page
    levels = [m.level_tag for m in response.context["messages"]]
    assert "error" in levels and "success" not in levels
    assert working_version(conversation).number == 1
    assert admin_client.get(url).status_code == 405


def test_a_published_version_cannot_be_edited(admin_client, shop, conversation, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="1")
    terminate(admin_client, main)
    url = reverse("admin:conductor_conversation_publish", args=[conversation.pk])
    response = admin_client.post(url, follow=True)
    assert "Published version 1." in response.content.decode()
    wait = main.steps.get(kind=StepKind.WAIT)
    step_url = reverse("admin:conductor_step_change", args=[wait.pk])
    page = admin_client.get(step_url).content.decode()
    assert 'name="days"' not in page and "&quot;days&quot;: 1" in page  # shown, not editable
    admin_client.post(step_url, {"name": "x", "rule": "duration", "days": "9"})
    wait.refresh_from_db()
    assert wait.settings["days"] == 1 and wait.name == ""
    thread_url = reverse("admin:conductor_thread_change", args=[main.pk])
    assert 'name="steps-0-position"' not in admin_client.get(thread_url).content.decode()
    added_to_published = add_step(admin_client, main, StepKind.TERMINATE)
    assert added_to_published.status_code == 400
    assert (
        admin_client.post(
            reverse("admin:conductor_step_delete", args=[wait.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    # The new working copy stays editable.
    working_main = main_thread(conversation)
    assert add_step(admin_client, working_main, StepKind.TERMINATE).status_code == 302


def test_steps_are_reordered_on_the_thread_page(admin_client, main):
    for days in ("1", "2", "3"):
        add_step(admin_client, main, StepKind.WAIT, rule="duration", days=days)
    second = main.steps.order_by("position")[1]
    url = reverse("admin:conductor_thread_change", args=[main.pk])
    move_url = reverse("admin:conductor_step_move")
    assert f'data-move-url="{move_url}"' in admin_client.get(url).content.decode()
    # Each move is saved at once (more in tests/test_steps_in_place.py).
    response = admin_client.post(move_url, {"step": second.pk, "thread": main.pk, "position": 1})
    assert response.status_code == 200, response.content.decode()[:3000]
    order = [s.settings["days"] for s in main.steps.order_by("position")]
    assert order == [2, 1, 3]
    assert list(main.steps.order_by("position").values_list("position", flat=True)) == [0, 1, 2]


def test_a_child_thread_is_added_to_a_wait_step(admin_client, conversation, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="1")
    wait = added(main)
    version = working_version(conversation)
    url = reverse("admin:conductor_thread_add") + f"?version={version.pk}&parent_step={wait.pk}"
    page = admin_client.get(url)
    assert page.context["adminform"].form.initial["parent_step"] == str(wait.pk)
    response = admin_client.post(
        url, {"name": "Clicked", "parent_step": wait.pk, "child_event": "ClickedLink"}
    )
    assert "link_url" in response.context["adminform"].form.errors
    response = admin_client.post(
        url,
        {
            "name": "Clicked",
            "parent_step": wait.pk,
            "child_event": "ClickedLink",
            "link_url": "https://shop.example/sale",
        },
    )
    assert response.status_code == 302
    child = Thread.objects.get(name="Clicked")
    assert (child.version, child.parent_step, child.is_main) == (version, wait, False)


def test_the_diagram_shows_every_step_and_the_go_to_arrow(admin_client, shop, conversation, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="1")
    wait = added(main)
    add_step(admin_client, main, StepKind.GO_TO, target=str(wait.key))
    goto = added(main)
    child = ThreadFactory(parent_step=wait, child_event="Opened")
    terminate(admin_client, child)
    page = admin_client.get(
        reverse("admin:conductor_conversation_change", args=[conversation.pk])
    ).content.decode()
    for step in Step.objects.filter(version=main.version):
        assert f'data-step-key="{step.key}"' in page
    assert f'class="diagram-goto" data-from="{goto.key}" data-to="{wait.key}"' in page
    assert f'class="diagram-child" data-thread="{child.pk}"' in page
    assert "1 day" in page  # the Wait's summary


def test_counts_per_step_show_waiting_held_and_passed(admin_client, shop, conversation, main):
    add_step(admin_client, main, StepKind.WAIT, rule="duration", days="1")
    terminate(admin_client, main)
    version = publish(conversation)
    wait = version.steps.get(kind=StepKind.WAIT)
    now = timezone.now()
    for index, state in enumerate([EnrollmentState.ACTIVE] * 2 + [EnrollmentState.HELD]):
        enrollment = EnrollmentFactory(
            step=wait,
            state=state,
            due_at=now,
            held_reason="Boom" if state == EnrollmentState.HELD else "",
        )
        StepRunFactory(enrollment=enrollment, visit=index, step=wait)
    page = admin_client.get(  # the published diagram carries the counts
        reverse("admin:conductor_conversation_change", args=[conversation.pk]),
        {"diagram": "published"},
    ).content.decode()
    assert "waiting 2 · " in page and "passed 3" in page
    assert f'<tr data-step="{wait.pk}"><td>v1</td>' in page
    assert f"?step__id__exact={wait.pk}&amp;state__exact=Held" in page
    held = admin_client.get(
        reverse("admin:conductor_enrollment_changelist"),
        {"step__id__exact": wait.pk, "state__exact": "Held"},
    ).content.decode()
    assert "Boom" in held
    listing = admin_client.get(reverse("admin:conductor_conversation_changelist")).content.decode()
    assert '<td class="field-contacts_inside">3</td>' in listing


def test_resuming_held_enrollments_makes_them_active_and_due(
    admin_client, shop, conversation, main
):
    terminate(admin_client, main)
    version = publish(conversation)
    step = version.steps.get()
    enrollment = EnrollmentFactory(step=step, state=EnrollmentState.HELD, held_reason="Pool empty")
    response = admin_client.post(
        reverse("admin:conductor_enrollment_changelist"),
        {"action": "resume_held_enrollments", "_selected_action": [enrollment.pk]},
    )
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE and enrollment.held_reason == ""
    assert enrollment.due_at <= timezone.now()


def upload(client, pool: CouponPool, text: str):
    url = reverse("admin:conductor_couponpool_change", args=[pool.pk])
    return client.post(
        url,
        {
            "list": pool.list_id,
            "name": pool.name,
            "kind": pool.kind,
            "static_code": "",
            "expiry_cutoff": pool.expiry_cutoff.isoformat() if pool.expiry_cutoff else "",
            "codes_file": SimpleUploadedFile("codes.csv", text.encode()),
        },
        follow=True,
    )


def test_coupon_codes_upload_skips_duplicates_and_counts_available(admin_client, shop):
    pool = CouponPoolFactory(list=shop, expiry_cutoff=dt.date(2030, 6, 30))
    CouponFactory(pool=pool, code="OLD1")
    text = "code\nA1,2031-01-01\n\nA2,2030-06-30\nA1\nOLD1\nA3\n"
    page = upload(admin_client, pool, text).content.decode()
    assert "Added 3 codes." in page
    assert "Skipped 1 codes repeated in the file: A1." in page
    assert "Skipped 1 codes already in the pool: OLD1." in page
    assert dict(pool.coupons.values_list("code", "expires_on")) == {
        "OLD1": None,
        "A1": dt.date(2031, 1, 1),
        "A2": dt.date(2030, 6, 30),
        "A3": None,
    }
    listing = admin_client.get(reverse("admin:conductor_couponpool_changelist")).content.decode()
    # A2 expires on the cutoff, so it is never handed out.
    assert '<td class="field-available_codes">3</td>' in listing


def test_a_bad_expiry_date_is_reported_by_line_and_nothing_is_added(admin_client, shop):
    pool = CouponPoolFactory(list=shop)
    response = upload(admin_client, pool, "A1,2031-01-01\nA2,2031-02-30\nA3,31/12/2031\n")
    errors = response.context["adminform"].form.errors["codes_file"]
    assert errors == [
        "Line 2: '2031-02-30' is not an expiry date as YYYY-MM-DD.",
        "Line 3: '31/12/2031' is not an expiry date as YYYY-MM-DD.",
    ]
    assert not pool.coupons.exists()


def test_ten_thousand_codes_upload_at_once(admin_client, shop, django_assert_max_num_queries):
    pool = CouponPoolFactory(list=shop)
    text = "\n".join(f"CODE-{n:06d},2031-01-01" for n in range(10_000))
    with django_assert_max_num_queries(120):  # not one query per code
        page = upload(admin_client, pool, text).content.decode()
    assert "Added 10000 codes." in page
    assert pool.coupons.count() == 10_000
    page = upload(admin_client, pool, text + "\nNEW-1").content.decode()
    assert "Added 1 codes." in page and "10000 codes already in the pool" in page
