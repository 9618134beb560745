"""Go To: moves the contact to another step of the version, or to the end of
its thread (the contact leaves the conversation, as at a Terminate): every
contact, or only those matching Listrak-shaped criteria (``conductor.filters``:
profile comparisons and engagement with the conversation's emails); the
others continue with the next step.

Settings: ``{"target": "<step key>" or "end", "criteria": <filter> or null}``.
The admin edits the criteria with a filter builder (``conductor.filters.builder``).
"""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

from django import forms
from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import NEXT, Finish, Hold, JumpTo, Outcome
from conductor.filters import Criteria, criteria_q, parse_criteria
from conductor.filters.builder import CriteriaBuilder, builder_data
from conductor.filters.words import criteria_words
from conductor.forms.base import StepForm
from conductor.models import Step, StepKind
from conductor.steps.context import Names, VersionContext, label, step_label
from conductor.steps.references import CRITERIA, MESSAGE, STEP, Reference, referenced
from conductor.steps.unit import StepKindUnit, unit_of
from contacts.models import Contact


class GoToSettings(TypedDict):
    target: str | None
    criteria: dict[str, Any] | None


#: The stored target meaning "the end of this thread": the contact leaves the
#: conversation there, as at a Terminate step.
END = "end"


def target_key(step: Step) -> str:
    return str(step.settings.get("target") or "")


def target_label(step: Step) -> str:
    """How the target choice names a step: "Main step 5: Terminate — Done"."""
    name = f" — {step.name}" if step.name else ""
    return f"{step.thread.name} step {step.position + 1}: {step.get_kind_display()}{name}"


def _thread_order(step: Step) -> tuple[bool, int, int, int]:
    """The main thread first, then the child threads, each step by step."""
    thread = step.thread
    return (not thread.is_main, thread.position, thread.pk, step.position)


class GoToStepForm(StepForm):
    """The target (a step of the version, by thread and name, or the end of
    the thread), and the criteria, built as rows by the filter builder; its
    hidden JSON (Listrak's filter shape) is what the form submits."""

    settings_fieldsets = [("Go To", {"fields": ["target", "criteria"]})]
    problem_fields = [("go to", "target"), ("target", "target"), ("itself", "target")]

    target = forms.ChoiceField(choices=[], required=False, label="Go to")
    criteria = forms.CharField(
        required=False,
        label="Only contacts who match",
        widget=CriteriaBuilder(),
        help_text=(
            "Only contacts matching these conditions go; the others continue with "
            "the next step. No conditions: every contact goes."
        ),
    )

    def add_setting_fields(self) -> None:
        target = cast(forms.ChoiceField, self.fields["target"])  # declared above
        by_thread: dict[int, tuple[str, list[tuple[str, str]]]] = {}
        for step in sorted(self.version_steps, key=_thread_order):
            _, steps = by_thread.setdefault(step.thread_id, (step.thread.name, []))
            steps.append((str(step.key), target_label(step)))
        end = "The end of this thread: the contact leaves the conversation"
        target.choices = [("", "---------"), (END, end), *by_thread.values()]
        widget = cast(CriteriaBuilder, self.fields["criteria"].widget)  # declared above
        widget.data = builder_data(
            self.email_list,
            conversation_id=self.version.conversation_id,
            sent_message_ids=self._sent_message_ids(),
        )

    def _sent_message_ids(self) -> list[int]:
        """The messages this version's steps send, in the order of the steps."""
        sent: list[int] = []
        for step in self.version_steps:
            sent += referenced(step.settings, unit_of(step).references, MESSAGE)
        return list(dict.fromkeys(pk for pk in sent if isinstance(pk, int)))

    def full_clean(self) -> None:
        super().full_clean()
        # The builder shows each problem of the criteria on the row it names.
        widget = cast(CriteriaBuilder, self.fields["criteria"].widget)
        widget.data = {**widget.data, "errors": list(self.errors.get("criteria", []))}

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        criteria = settings.get("criteria")
        return {
            "target": settings.get("target") or "",
            "criteria": json.dumps(criteria, indent=2) if criteria else "",
        }

    def clean_criteria(self) -> dict[str, Any] | None:
        text = self.cleaned_data["criteria"].strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"Criteria are not valid JSON: {error}.") from error
        if not isinstance(data, dict):
            raise ValidationError("Criteria must be a JSON object (a Listrak filter).")
        # The filter's own messages name each problem with its path in the tree.
        criteria = parse_criteria(
            self.email_list, data, conversation_id=self.version.conversation_id
        )
        return criteria.to_settings()

    def settings_from(self, cleaned: dict[str, Any]) -> GoToSettings:
        return {"target": cleaned.get("target") or None, "criteria": cleaned.get("criteria")}


class GoToUnit(StepKindUnit):
    kind = StepKind.GO_TO
    label = StepKind.GO_TO.label
    form = GoToStepForm
    colour = "#fef3c7"
    references = (Reference("target", STEP), Reference("criteria", CRITERIA))

    def always_jumps(self, step: Step) -> bool:
        return not step.settings.get("criteria")

    def jump_targets(self, step: Step) -> list[str]:
        # The end of the thread is no step: nothing to draw an arrow to or reach.
        return [key for key in super().jump_targets(step) if key != END]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        where = label(step)
        problems: list[str] = []
        target = target_key(step)
        if not target:
            problems.append(f"{where}: choose the step to go to.")
        elif target == END:
            pass
        elif target not in context.steps_by_key:
            problems.append(f"{where}: its target step is not in this version.")
        elif target == str(step.key):
            problems.append(f"{where}: a Go To cannot go to itself.")
        criteria = step.settings.get("criteria")
        if criteria:
            try:
                parsed = parse_criteria(
                    context.version.conversation.list,
                    criteria,
                    conversation_id=context.version.conversation_id,
                )
            except ValidationError as error:
                problems.extend(f"{where}: {message}" for message in error.messages)
            else:
                if context.publishing:  # while editing, the Message step may come later
                    problems.extend(f"{where}: {p}" for p in _unsent_messages(parsed, context))
        unknown = set(step.settings) - {"target", "criteria"}
        if unknown:
            problems.append(f"{where}: unknown settings {', '.join(sorted(unknown))}.")
        return problems

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        """Everybody jumps, or only the contacts the criteria match: one query.
        Going to the end of the thread, they leave the conversation."""
        jump: Outcome
        if target_key(batch.step) == END:
            jump = Finish(reason="Went to the end of the thread.")
        else:
            target = batch.steps.by_key.get(target_key(batch.step))
            if target is None:  # publishing refuses this; a hand-edited version must not crash
                hold = Hold("The Go To's target step is missing.")
                return {e.pk: hold for e in batch.enrollments}
            jump = JumpTo(target)
        if self.always_jumps(batch.step):
            return {e.pk: jump for e in batch.enrollments}
        try:
            criteria = parse_criteria(
                batch.email_list,
                batch.step.settings["criteria"],
                conversation_id=batch.enrollments[0].conversation_id,
            )
        except ValidationError as error:  # a field or message deleted since publishing
            hold = Hold(f"The Go To's criteria are no longer valid: {' '.join(error.messages)}")
            return {e.pk: hold for e in batch.enrollments}
        by_contact = {e.contact_id: e.pk for e in batch.enrollments}
        matching = set(
            Contact.objects.filter(pk__in=by_contact)
            .filter(criteria_q(criteria, now=batch.now))
            .values_list("pk", flat=True)
        )
        return {pk: jump if contact in matching else NEXT for contact, pk in by_contact.items()}

    def summary(self, step: Step, names: Names) -> str:
        target = names.steps.get(str(step.settings.get("target")))
        where = step_label(target) if target else "?"
        if target_key(step) == END:
            where = "the end (leave)"
        criteria = step.settings.get("criteria")
        if not criteria:
            return f"to {where} (everyone)"
        return f"to {where} if {criteria_words(criteria, names)}"


def _unsent_messages(criteria: Criteria, context: VersionContext) -> list[str]:
    """Engagement conditions on a message no step of the version sends: only
    this conversation's emails count, so they could never see engagement."""
    sent: set[object] = set()
    for step in context.steps:
        sent.update(referenced(step.settings, unit_of(step).references, MESSAGE))
    named = {e.message.pk: e.message for e in criteria.engagements()}
    return [
        f"its criteria count engagement with message “{message.name}”, which no step "
        "of this version sends (only this conversation's emails count)."
        for pk, message in sorted(named.items())
        if pk not in sent
    ]
