"""Step forms for Message, Go To and Terminate steps, and the registry of
every kind's form (Action and Wait have their own modules)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from conductor.filters import parse_criteria
from conductor.forms.action import ActionStepForm
from conductor.forms.base import Fieldsets, StepForm, step_choice_label
from conductor.forms.wait import WaitStepForm
from conductor.models import Message, StepKind, Thread, Trigger, Version


def _variant_field(trigger: Trigger) -> str:
    return f"variant_{trigger.pk}"


class MessageStepForm(StepForm):
    """The message to send, and optionally another message per trigger: one
    choice per trigger of the conversation (a blank one sends the main message)."""

    settings_fieldsets = [
        ("Message", {"fields": ["message"]}),
    ]
    problem_fields = [("variant", None), ("message", "message")]

    message = forms.ModelChoiceField(queryset=Message.objects.none(), required=False)

    def add_setting_fields(self) -> None:
        messages = Message.objects.filter(list=self.email_list)
        self.fields["message"].queryset = messages
        self.triggers = list(Trigger.objects.filter(conversation_id=self.version.conversation_id))
        for trigger in self.triggers:
            self.fields[_variant_field(trigger)] = forms.ModelChoiceField(
                queryset=messages,
                required=False,
                label=f"For contacts brought in by {trigger}",
                help_text="Blank: the message above.",
            )

    @classmethod
    def layout(cls, version: Version) -> Fieldsets:
        triggers = Trigger.objects.filter(conversation_id=version.conversation_id)
        variants = [_variant_field(trigger) for trigger in triggers]
        extra: Fieldsets = [("Per-trigger variants", {"fields": variants})] if variants else []
        return [*super().layout(version), *extra]

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"message": settings.get("message")}
        for variant in settings.get("variants") or []:
            if isinstance(variant, dict):
                initial[f"variant_{variant.get('trigger')}"] = variant.get("message")
        return initial

    def settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        message = cleaned.get("message")
        variants = [
            {"trigger": trigger.pk, "message": cleaned[_variant_field(trigger)].pk}
            for trigger in self.triggers
            if cleaned.get(_variant_field(trigger))
        ]
        return {"message": message.pk if message else None, "variants": variants}


class GoToStepForm(StepForm):
    """The target step, chosen from the version's steps; criteria in Listrak's
    filter shape as JSON (the nested tree has no fixed number of fields)."""

    settings_fieldsets = [("Go To", {"fields": ["target", "criteria"]})]
    problem_fields = [("go to", "target"), ("target", "target"), ("itself", "target")]

    target = forms.ChoiceField(choices=[], required=False, label="Go to step")
    criteria = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"}),
        help_text=(
            "Blank: every contact goes. Otherwise a Listrak filter as JSON, e.g. "
            '{"filters": [{"segmentationFieldId": 7, "compareType": "Equals", '
            '"values": [{"value": "2"}]}]}; only matching contacts go, the others continue.'
        ),
    )

    def add_setting_fields(self) -> None:
        self.fields["target"].choices = [("", "---------")] + [
            (str(step.key), step_choice_label(step)) for step in self.version_steps
        ]

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
        return parse_criteria(self.email_list, data).to_settings()

    def settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        return {"target": cleaned.get("target") or None, "criteria": cleaned.get("criteria")}


class TerminateStepForm(StepForm):
    """A Terminate step has no settings, only its name."""


STEP_FORMS: dict[str, type[StepForm]] = {
    StepKind.MESSAGE: MessageStepForm,
    StepKind.GO_TO: GoToStepForm,
    StepKind.ACTION: ActionStepForm,
    StepKind.WAIT: WaitStepForm,
    StepKind.TERMINATE: TerminateStepForm,
}


def step_form_for(kind: str, thread: Thread | None) -> type[StepForm]:
    """The form class for a step of ``kind``; ``thread`` is where a new one goes."""
    base = STEP_FORMS[kind]
    return type(base.__name__, (base,), {"kind": kind, "thread": thread})
