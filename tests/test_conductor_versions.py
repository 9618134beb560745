"""Conversations, their versions, publishing and its checks; the database's
own guarantees (one working copy, one contact inside at a time, one run per
step visit)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from conductor.models import (
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
    StepOutcome,
    StepRun,
    Trigger,
    TriggerKind,
    Version,
)
from conductor.versions import (
    create_conversation,
    publish,
    published_version,
    version_problems,
    working_version,
)
from lists.models import DataType
from tests.factories import (
    ContactFactory,
    EventFactory,
    MessageFactory,
    ProfileFieldFactory,
    ThreadFactory,
    add_step,
    main_thread,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(shop):
    return create_conversation(email_list=shop, name="Welcome")


def test_a_new_conversation_has_a_working_version_with_a_main_thread(conversation):
    version = working_version(conversation)
    assert version.number == 1 and not version.is_published
    assert [t.name for t in version.threads.all()] == ["Main"]
    assert conversation.status == ConversationStatus.UNPUBLISHED
    assert published_version(conversation) is None


def test_publishing_freezes_the_version_and_starts_a_working_copy(conversation, shop):
    thread = main_thread(conversation)
    wait = add_step(thread, StepKind.WAIT, kind="duration", days=1)
    add_step(thread, StepKind.MESSAGE, message=MessageFactory(list=shop).pk)
    add_step(thread, StepKind.TERMINATE)
    published = publish(conversation)
    assert published.is_published
    assert conversation.status == ConversationStatus.PUBLISHED
    copy = working_version(conversation)
    assert copy.number == 2
    assert [s.key for s in Step.objects.filter(version=copy).order_by("position")] == [
        s.key for s in Step.objects.filter(version=published).order_by("position")
    ]
    # Editing the copy leaves the published version as it was.
    Step.objects.filter(version=copy, key=wait.key).update(settings={"kind": "duration", "days": 9})
    wait.refresh_from_db()
    assert wait.settings["days"] == 1
    assert published_version(conversation) == published


def test_publishing_names_every_problem_and_changes_nothing(conversation, shop):
    thread = main_thread(conversation)
    add_step(thread, StepKind.MESSAGE)  # no message chosen
    add_step(thread, StepKind.WAIT, kind="duration", days="soon")
    add_step(thread, StepKind.GO_TO, target="00000000-0000-0000-0000-000000000000")
    add_step(thread, StepKind.ACTION, action="SetDate", field=999)
    with pytest.raises(ValidationError) as refused:
        publish(conversation)
    problems = " | ".join(refused.value.messages)
    assert "Main step 1, Message: choose the message to send." in problems
    assert "Main step 2, Wait: Wait: days must be a whole number" in problems
    assert "Main step 3, Go To: its target step is not in this version." in problems
    assert "Main step 4, Action: field must be a profile field of this list." in problems
    assert "Main does not end in a Terminate step or a Go To without criteria." in problems
    assert Version.objects.filter(conversation=conversation).count() == 1
    assert not working_version(conversation).is_published


def test_a_thread_without_steps_cannot_be_published(conversation):
    assert version_problems(working_version(conversation)) == ["Main has no steps."]


def test_steps_after_a_terminate_are_unreachable(conversation):
    thread = main_thread(conversation)
    add_step(thread, StepKind.TERMINATE)
    add_step(thread, StepKind.TERMINATE)
    assert version_problems(working_version(conversation)) == [
        "Main step 2, Terminate: no step leads here (it follows a Terminate)."
    ]


def test_a_loop_without_a_wait_is_refused_and_one_with_a_wait_is_not(conversation, shop):
    thread = main_thread(conversation)
    points = ProfileFieldFactory(list=shop, group__list=shop, data_type=DataType.NUMERIC)
    first = add_step(thread, StepKind.ACTION, action="SetValue", field=points.pk, value="1")
    add_step(thread, StepKind.GO_TO, target=str(first.key))
    problems = version_problems(working_version(conversation))
    assert len(problems) == 1
    assert problems[0].startswith("A loop without a Wait: Main step 1, Action")

    Step.objects.filter(pk=first.pk).update(position=1)
    Step.objects.filter(thread=thread, kind=StepKind.GO_TO).update(position=2)
    wait = add_step(thread, StepKind.WAIT, kind="duration", days=7)
    Step.objects.filter(pk=wait.pk).update(position=0)
    Step.objects.filter(thread=thread, kind=StepKind.GO_TO).update(
        settings={"target": str(wait.key)}
    )
    assert version_problems(working_version(conversation)) == []


def test_actions_check_their_fields_types(conversation, shop):
    thread = main_thread(conversation)
    text = ProfileFieldFactory(list=shop, group__list=shop, name="Nickname")
    add_step(thread, StepKind.ACTION, action="SetDate", field=text.pk, offset_days=1)
    add_step(thread, StepKind.ACTION, action="SplitTest", field=text.pk, weights=[1])
    add_step(thread, StepKind.ACTION, action="FireEvent", event=EventFactory().pk)  # another list's
    add_step(thread, StepKind.TERMINATE)
    problems = version_problems(working_version(conversation))
    assert problems == [
        "Main step 1, Action: field 'Nickname' must be a Date field.",
        "Main step 2, Action: field 'Nickname' must be a Numeric field.",
        "Main step 2, Action: weights are 2 to 20 whole numbers above 0.",
        "Main step 3, Action: event must be an event of this list.",
    ]


def test_a_wait_on_a_profile_date_needs_a_date_field(conversation, shop):
    thread = main_thread(conversation)
    text = ProfileFieldFactory(list=shop, group__list=shop)
    add_step(
        thread,
        StepKind.WAIT,
        kind="profile_date",
        field_id=text.pk,
        offset_days=0,
        time="09:00",
    )
    add_step(thread, StepKind.TERMINATE)
    assert version_problems(working_version(conversation)) == [
        f"Main step 1, Wait: field {text.pk} is not a Date profile field of this list."
    ]


def test_a_child_thread_is_copied_onto_the_copys_wait_step(conversation, shop):
    thread = main_thread(conversation)
    add_step(thread, StepKind.MESSAGE, message=MessageFactory(list=shop).pk)
    wait = add_step(thread, StepKind.WAIT, kind="duration", days=3)
    add_step(thread, StepKind.TERMINATE)
    child = ThreadFactory(parent_step=wait)
    add_step(child, StepKind.TERMINATE)
    published = publish(conversation)
    copy = working_version(conversation)
    copied_child = copy.threads.get(is_main=False)
    assert copied_child.parent_step.key == wait.key
    assert copied_child.parent_step.version == copy
    assert published.threads.get(is_main=False).parent_step == wait


def test_there_is_one_working_version_per_conversation(conversation):
    with pytest.raises(IntegrityError), transaction.atomic():
        Version.objects.create(conversation=conversation, number=2)


def test_an_external_event_trigger_names_its_event_and_others_do_not(conversation, shop):
    with pytest.raises(IntegrityError), transaction.atomic():
        Trigger.objects.create(conversation=conversation, kind=TriggerKind.EXTERNAL_EVENT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Trigger.objects.create(
            conversation=conversation, kind=TriggerKind.SUBSCRIBE, event=EventFactory(list=shop)
        )
    Trigger.objects.create(conversation=conversation, kind=TriggerKind.SUBSCRIBE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Trigger.objects.create(conversation=conversation, kind=TriggerKind.SUBSCRIBE)


def enroll(conversation, contact, **fields) -> Enrollment:
    version = working_version(conversation)
    return Enrollment.objects.create(
        conversation=conversation,
        version=version,
        contact=contact,
        trigger_kind=TriggerKind.SUBSCRIBE,
        thread=version.threads.get(is_main=True),
        due_at=timezone.now(),
        **fields,
    )


def test_a_contact_is_inside_a_conversation_at_most_once_at_a_time(conversation, shop):
    contact = ContactFactory(list=shop)
    first = enroll(conversation, contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        enroll(conversation, contact)
    Enrollment.objects.filter(pk=first.pk).update(
        state=EnrollmentState.FINISHED, finished_at=timezone.now()
    )
    enroll(conversation, contact)  # once it has left, it may enter again


def test_a_step_visit_runs_once(conversation, shop):
    thread = main_thread(conversation)
    step = add_step(thread, StepKind.TERMINATE)
    enrollment = enroll(conversation, ContactFactory(list=shop))
    StepRun.objects.create(enrollment=enrollment, visit=1, step=step, outcome=StepOutcome.PASSED)
    with pytest.raises(IntegrityError), transaction.atomic():
        StepRun.objects.create(
            enrollment=enrollment, visit=1, step=step, outcome=StepOutcome.TERMINATED
        )
