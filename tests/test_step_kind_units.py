"""A new step kind is one module: "Tag", defined here and registered for
these tests only, is added with its admin form, published, run by the real
engine, drawn in the diagram and carried through export and import exactly
as the built-in kinds are, with no migration and no other file touched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict, cast

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from conductor.diagram import version_diagram
from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Outcome
from conductor.engine.tasks import run_due
from conductor.forms.base import StepForm
from conductor.models import (
    Conversation,
    EnrollmentState,
    Step,
    StepKind,
    StepOutcome,
    StepRun,
    Thread,
    Trigger,
    TriggerKind,
)
from conductor.steps.context import Names, VersionContext, label, whole_number
from conductor.steps.references import FIELD, Reference
from conductor.steps.registry import is_registered, register, unregister
from conductor.steps.unit import StepKindUnit
from conductor.transfer import TransferError, export_version, import_document
from conductor.versions import create_conversation, publish, version_problems, working_version
from contacts.models import Contact
from contacts.services import UpdateType, subscribe_contact, update_profiles
from lists.models import DataType, ProfileField

pytestmark = pytest.mark.django_db

TAG = "Tag"


# --- The whole of the "Tag" kind -------------------------------------------------


class TagSettings(TypedDict):
    field: int | None
    value: str


class TagStepForm(StepForm):
    """The Text field to write, and the value written into it."""

    settings_fieldsets = [("Tag", {"fields": ["field", "value"]})]
    problem_fields = [("value", "value"), ("field", "field")]

    field = forms.ModelChoiceField(queryset=ProfileField.objects.none(), required=False)
    value = forms.CharField(required=False)

    def add_setting_fields(self) -> None:
        cast(forms.ModelChoiceField, self.fields["field"]).queryset = ProfileField.objects.filter(
            list=self.email_list, data_type=DataType.TEXT
        )

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {"field": settings.get("field"), "value": settings.get("value", "")}

    def settings_from(self, cleaned: dict[str, Any]) -> TagSettings:
        chosen = cleaned.get("field")
        return {"field": chosen.pk if chosen else None, "value": cleaned.get("value") or ""}


class TagUnit(StepKindUnit):
    """Writes a fixed value into a Text profile field, then passes contacts on."""

    kind = TAG
    label = "Tag"
    form = TagStepForm
    colour = "#fde68a"
    references = (Reference("field", FIELD),)

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = []
        field = context.fields.get(whole_number(step.settings.get("field")) or 0)
        if field is None or field.data_type != DataType.TEXT:
            problems.append(f"{label(step)}: field must be a Text field of this list.")
        if not step.settings.get("value"):
            problems.append(f"{label(step)}: give the value to write.")
        return problems

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        field, value = int(batch.step.settings["field"]), batch.step.settings["value"]
        update_profiles(
            email_list=batch.email_list,
            updates=[(e.contact, {field: value}) for e in batch.enrollments],
            update_type=UpdateType.OVERWRITE,
            locked=True,  # the runner has locked the batch's contacts
        )
        return {}  # nobody left out: everyone goes on to the next step

    def summary(self, step: Step, names: Names) -> str:
        return f"{names.field(step.settings)} = {step.settings.get('value')}"


# --- Fixtures and helpers ----------------------------------------------------------


@pytest.fixture
def tag_kind() -> Iterator[StepKindUnit]:
    unit = register(TagUnit())
    yield unit
    unregister(TAG)


@pytest.fixture
def conversation(shop) -> Conversation:
    conversation = create_conversation(email_list=shop, name="Tagging")
    Trigger.objects.create(conversation=conversation, kind=TriggerKind.SUBSCRIBE)
    return conversation


def main(conversation: Conversation) -> Thread:
    return working_version(conversation).threads.get(is_main=True)


def add_step(client, thread: Thread, kind: str, **data: Any):
    url = reverse("admin:conductor_step_add") + f"?thread={thread.pk}&kind={kind}"
    return client.post(url, {"name": "", **data})


def first_name(shop) -> ProfileField:
    return ProfileField.objects.get(list=shop, name="First Name")


def tag_then_terminate(client, conversation: Conversation, shop) -> None:
    """The Tag step and a Terminate, both added through the admin's forms."""
    thread = main(conversation)
    tagged = add_step(client, thread, TAG, field=first_name(shop).pk, value="VIP")
    assert tagged.status_code == 302, tagged.content.decode()[:2000]
    assert add_step(client, thread, StepKind.TERMINATE).status_code == 302


# --- Tests ---------------------------------------------------------------------------


def test_the_admin_form_of_a_registered_kind_saves_the_settings_its_unit_reads(
    admin_client, shop, conversation, tag_kind
):
    thread = main(conversation)
    editor = admin_client.get(
        reverse("admin:conductor_conversation_change", args=[conversation.pk])
    )
    assert f'?thread={thread.pk}&kind=Tag">+ Tag</a>' in editor.content.decode()
    page = admin_client.get(reverse("admin:conductor_step_add") + f"?thread={thread.pk}&kind=Tag")
    assert page.status_code == 200 and 'name="value"' in page.content.decode()
    refused = add_step(admin_client, thread, TAG, field=first_name(shop).pk)
    assert "give the value to write" in " ".join(refused.context["adminform"].form.errors["value"])
    tag_then_terminate(admin_client, conversation, shop)
    step = thread.steps.get(kind=TAG)
    assert step.settings == {"field": first_name(shop).pk, "value": "VIP"}
    assert step.get_kind_display() == "Tag"
    step.full_clean()  # the kind is one of the model's choices while registered


def test_a_contact_passes_the_new_kind_with_the_real_engine(
    admin_client, shop, conversation, tag_kind
):
    tag_then_terminate(admin_client, conversation, shop)
    version = publish(conversation)
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    assert run_due() == 2  # the Tag step, then the Terminate
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.profile[first_name(shop).key] == "VIP"
    enrollment = contact.enrollments.get()
    assert enrollment.state == EnrollmentState.FINISHED and enrollment.version == version
    runs = StepRun.objects.filter(enrollment=enrollment).order_by("visit")
    assert [(run.step.kind, run.outcome) for run in runs] == [
        (TAG, StepOutcome.PASSED),
        (StepKind.TERMINATE, StepOutcome.TERMINATED),
    ]


def test_the_diagram_draws_the_new_kind_with_its_summary(
    admin_client, shop, conversation, tag_kind
):
    tag_then_terminate(admin_client, conversation, shop)
    svg = str(version_diagram(working_version(conversation)))
    assert 'data-kind="Tag"' in svg and "#fde68a" in svg
    assert "First Name = VIP" in svg


def test_export_and_import_carry_the_new_kinds_references_by_name(
    admin_client, shop, conversation, tag_kind
):
    tag_then_terminate(admin_client, conversation, shop)
    document = export_version(working_version(conversation))
    tag = document["steps"][0]
    assert (tag["kind"], tag["settings"]) == (TAG, {"field": "First Name", "value": "VIP"})
    assert {"name": "First Name", "data_type": DataType.TEXT} in document["profile_fields"]
    result = import_document(document)
    assert result.problems == []
    imported = Step.objects.get(version=working_version(result.conversation), kind=TAG)
    assert imported.settings == {"field": first_name(shop).pk, "value": "VIP"}
    assert export_version(working_version(result.conversation)) == document


def test_a_new_kind_needs_no_migration(tag_kind):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_a_kind_that_is_not_registered_cannot_be_created(admin_client, shop, conversation):
    thread = main(conversation)
    assert not is_registered(TAG)
    assert add_step(admin_client, thread, TAG, value="VIP").status_code == 400
    with pytest.raises(ValidationError) as refused:
        Step(thread=thread, version=thread.version, kind=TAG).full_clean()
    assert "kind" in refused.value.message_dict
    Step.objects.create(thread=thread, kind=StepKind.TERMINATE)
    document = export_version(working_version(conversation))
    document["steps"][0]["kind"] = TAG
    with pytest.raises(TransferError, match=r"steps\[0\]\.kind: must be one of Message, "):
        import_document(document)


def test_steps_of_a_kind_no_longer_registered_hold_contacts_and_cannot_be_published(
    admin_client, shop, conversation, tag_kind
):
    tag_then_terminate(admin_client, conversation, shop)
    publish(conversation)
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    unregister(TAG)  # its module removed while its steps remain
    run_due()
    enrollment = contact.enrollments.get()
    assert enrollment.state == EnrollmentState.HELD
    assert enrollment.held_reason == "No step kind 'Tag' is registered."
    assert version_problems(working_version(conversation)) == [
        "Main step 1, Tag: no step kind 'Tag' is registered."
    ]
    assert "unknown step kind" in str(version_diagram(enrollment.version))  # still drawn


def test_a_kind_cannot_be_registered_twice(tag_kind):
    with pytest.raises(ValueError, match="already registered"):
        register(TagUnit())
    assert register(tag_kind) is tag_kind  # the same unit again changes nothing
