"""The step form every kind's form builds on: the step's name as a model
field, the kind's settings as ordinary form fields written to ``Step.settings``.

Each kind's form lives in its unit's module (``conductor.steps``), and the
unit stays the judge of the settings: the form builds the JSON, runs the
unit's ``check`` on it, and shows each problem on the form field it names,
so the admin and publishing can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms

from conductor.models import Step, Thread, Version
from conductor.steps.context import VersionContext, label
from conductor.steps.unit import unit_of
from lists.models import List

Fieldsets = list[tuple[str | None, dict[str, Any]]]
ProblemFields = list[tuple[str, str | None]]


def field_for_problem(problem: str, problem_fields: ProblemFields) -> str | None:
    """The form field of the first word of ``problem_fields`` found in ``problem``."""
    for word, field in problem_fields:
        if re.search(rf"\b{re.escape(word)}\b", problem):
            return field
    return None


class StepForm(forms.ModelForm):
    #: Set on the subclass the admin builds (``step_form_for``): a new step's thread and kind.
    thread: ClassVar[Thread | None] = None
    kind: ClassVar[str] = ""
    #: The admin's layout of the kind's fields; "name" comes first in every form.
    settings_fieldsets: ClassVar[Fieldsets] = []
    #: (word in a unit's problem, form field showing it); the first word found wins.
    problem_fields: ClassVar[ProblemFields] = []

    class Meta:
        model = Step
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        step: Step = self.instance
        if step.pk is None:
            assert self.thread is not None, "a new step needs its thread"
            step.thread = self.thread
            step.version_id = self.thread.version_id
            step.kind = self.kind
            step.position = self.thread.steps.count()
        self.version: Version = step.thread.version
        self.email_list: List = self.version.conversation.list
        self.version_steps: list[Step] = list(
            Step.objects.filter(version=self.version)
            .exclude(pk=step.pk)
            .select_related("thread")
            .order_by("thread__is_main", "thread__position", "thread_id", "position", "id")
        )
        self.add_setting_fields()
        if not self.is_bound and step.settings:
            self.initial.update(self.initial_from(step.settings))

    @classmethod
    def layout(cls, version: Version) -> Fieldsets:
        """The admin's fieldsets for a step of ``version``."""
        return [(None, {"fields": ["name"]}), *cls.settings_fieldsets]

    # --- What each kind provides --------------------------------------------

    def add_setting_fields(self) -> None:
        """Add the fields whose choices depend on the list (its messages, fields…)."""

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The form's initial values for saved ``settings``."""
        return {}

    def settings_from(self, cleaned: dict[str, Any]) -> Mapping[str, Any]:
        """The settings JSON, in the shape the kind's unit reads."""
        return {}

    def field_for_problem(self, problem: str) -> str | None:
        """The form field a problem of the unit's ``check`` is shown on (None: the form's)."""
        return field_for_problem(problem, self.problem_fields)

    # --- Validation ---------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns its cleaned_data
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned  # the unit's problems would only repeat the fields' own
        step: Step = self.instance
        step.name = cleaned.get("name") or ""
        step.settings = dict(self.settings_from(cleaned))
        context = VersionContext(version=self.version, steps=[*self.version_steps, step])
        prefix = f"{label(step)}: "
        for problem in unit_of(step).check(step, context):
            message = problem.removeprefix(prefix)
            field = self.field_for_problem(message)
            self.add_error(field if field in self.fields else None, message)
        return cleaned


def step_choice_label(step: Step) -> str:
    """How a step is named in choices and the diagram: thread, number, name."""
    name = f" {step.name}" if step.name else ""
    return f"{step.thread.name} #{step.position + 1} {step.get_kind_display()}{name}"
