"""Action: writes into a profile field of the list (SPEC section 4), or fires
an external event. Settings: ``{"action": <action kind>, ...}``; each action
kind is its own unit in ``conductor.steps.actions`` (SetCoupon, SetValue,
SetDate, DaysBetween, SplitTest, FireEvent), which this step asks.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any, cast

from django import forms
from django.db.models import Q

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Hold, Outcome
from conductor.forms.base import Fieldsets, StepForm, field_for_problem
from conductor.models import Step, StepKind, Version
from conductor.steps.actions.registry import action_for, all_actions
from conductor.steps.context import Names, VersionContext, label
from conductor.steps.references import Reference
from conductor.steps.unit import StepKindUnit


class ActionStepForm(StepForm):
    """The action's choice, then one group of fields per action kind; the
    admin's script shows the chosen action's group (class ``action-<kind>``)."""

    action = forms.ChoiceField(choices=[], required=False)

    @classmethod
    def layout(cls, version: Version) -> Fieldsets:
        email_list = version.conversation.list
        groups: Fieldsets = [
            (a.title, {"fields": list(a.form_fields(email_list)), "classes": [f"action-{a.kind}"]})
            for a in all_actions()
        ]
        return [*super().layout(version), ("Action", {"fields": ["action"]}), *groups]

    def add_setting_fields(self) -> None:
        actions = all_actions()
        choice = cast(forms.ChoiceField, self.fields["action"])  # declared above
        choice.choices = [("", "---------")] + [(a.kind, a.choice_label) for a in actions]
        for action in actions:
            self.fields.update(action.form_fields(self.email_list))

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        action = action_for(settings.get("action"))
        initial = action.initial_from(settings) if action else {}
        return {"action": settings.get("action"), **initial}

    def clean(self) -> dict[str, Any]:
        action = action_for(self.cleaned_data.get("action"))
        if action is not None:
            action.clean_form(self.cleaned_data, self.add_error)
        return super().clean()

    def settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        action = action_for(cleaned.get("action"))
        if action is None:
            return {"action": cleaned.get("action") or ""}
        return dict(action.settings_from(cleaned))

    def field_for_problem(self, problem: str) -> str | None:
        action = action_for(self.cleaned_data.get("action"))
        words = [("action is one of", "action"), *(action.problem_fields if action else [])]
        found = field_for_problem(problem, words)
        return found or (action.problem_fallback if action else None)


class ActionUnit(StepKindUnit):
    kind = StepKind.ACTION
    label = StepKind.ACTION.label
    form = ActionStepForm
    colour = "#dcfce7"

    @property
    def references(self) -> tuple[Reference, ...]:  # type: ignore[override]  # read-only: nothing sets a unit's references
        """Every action's references, whichever action a step has: the same
        key means the same thing in every action."""
        return tuple(dict.fromkeys(r for a in all_actions() for r in a.references))

    def check(self, step: Step, context: VersionContext) -> list[str]:
        action = action_for(step.settings.get("action"))
        if action is None:
            kinds = ", ".join(a.kind for a in all_actions())
            return [f"{label(step)}: action is one of {kinds}."]
        return action.check(step, context)

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        kind = batch.step.settings.get("action")
        action = action_for(kind)
        if action is None:  # publishing refuses this; a hand-edited version must not crash
            return {e.pk: Hold(f"No action kind {kind!r}.") for e in batch.enrollments}
        return action.run(batch)

    def summary(self, step: Step, names: Names) -> str:
        action = action_for(step.settings.get("action"))
        return action.summary(step.settings, names) if action else "no action chosen"

    def held_for_codes(self, pool_id: int) -> Q | None:
        wanted = [
            Q(settings__action=a.kind) & q
            for a in all_actions()
            if (q := a.held_for_codes(pool_id)) is not None
        ]
        return reduce(or_, wanted) if wanted else None
