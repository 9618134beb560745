"""The interface of an action kind, ``ActionKindUnit``, and what most
actions share: checking a profile-field setting, offering the list's fields
of a type, and writing one value per contact into the step's field
(``FieldActionUnit``)."""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypedDict

from django import forms
from django.db.models import Q

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Outcome
from conductor.forms.base import ProblemFields
from conductor.models import Enrollment, Step
from conductor.steps.context import Names, VersionContext, label, whole_number
from conductor.steps.references import FIELD, Reference
from contacts.services import UpdateType, update_profiles
from lists.models import DataType, List, ProfileField

#: ``form.add_error``: shows a message on a form field.
AddError = Callable[[str, Any], None]


class ActionSettings(TypedDict):
    """What every action's settings hold; each action's settings add their own keys."""

    action: str


class FieldSettings(ActionSettings):
    """The settings of an action writing into a profile field: that field's id."""

    field: int | None


class ActionKindUnit(ABC):
    """One action an Action step performs (``settings["action"]``): its
    check, its set-based run, its form fields and its summary."""

    #: The stored ``settings["action"]``: never renamed.
    kind: ClassVar[str]
    #: The choice offered in the Action step's form.
    choice_label: ClassVar[str]
    #: The heading of its fields in the form.
    title: ClassVar[str]
    #: The settings naming other rows (``conductor.steps.references``).
    references: ClassVar[tuple[Reference, ...]] = ()
    #: (word in a problem, form field showing it); the first word found wins.
    problem_fields: ClassVar[ProblemFields] = []
    #: The form field showing a problem none of ``problem_fields`` names.
    problem_fallback: ClassVar[str | None] = None

    @abstractmethod
    def check(self, step: Step, context: VersionContext) -> list[str]:
        """The problems of the step's settings, each starting with ``label(step)``."""

    @abstractmethod
    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        """Perform the action for every enrollment of ``batch`` at once."""

    @abstractmethod
    def summary(self, settings: dict[str, Any], names: Names) -> str:
        """A few words on what the action does, for the diagram."""

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        """New form fields for its settings, offering ``email_list``'s rows;
        their names are unique among all actions (one form holds them all)."""
        return {}

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The form's initial values for saved ``settings``."""
        return {}

    def settings_from(self, cleaned: dict[str, Any]) -> Mapping[str, Any]:
        """Its settings (``"action"`` included) from the form's cleaned data."""
        return {"action": self.kind}

    def clean_form(self, cleaned: dict[str, Any], add_error: AddError) -> None:  # noqa: B027
        """Check or convert cleaned form values before the settings are built
        (most actions need nothing here)."""

    def held_for_codes(self, pool_id: int) -> Q | None:
        """Its steps (a Q on Step) holding contacts when pool ``pool_id`` has no codes."""
        return None


class FieldActionUnit(ActionKindUnit):
    """An action that writes one value per contact into the step's profile
    field (``settings["field"]``), passing everyone on."""

    references: ClassVar[tuple[Reference, ...]] = (Reference("field", FIELD),)

    @abstractmethod
    def values(self, batch: StepBatch) -> dict[int, object]:
        """``{enrollment id: value}`` to write (None clears; left out: not written)."""

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        write_field(batch, self.values(batch))
        return {}


def field_problems(
    step: Step, context: VersionContext, name: str, types: tuple[str, ...]
) -> list[str]:
    """The problems of setting ``name``: a profile field of the list, of one of ``types``."""
    field_id = whole_number(step.settings.get(name))
    field = context.fields.get(field_id) if field_id is not None else None
    if field is None:
        return [f"{label(step)}: {name} must be a profile field of this list."]
    if types and field.data_type not in types:
        wanted = " or ".join(str(DataType(t).label) for t in types)
        return [f"{label(step)}: {name} {field.name!r} must be a {wanted} field."]
    return []


def field_choice(email_list: List, types: tuple[str, ...] = (), **kwargs: Any) -> forms.Field:
    """A choice of ``email_list``'s profile fields, of ``types`` when given."""
    fields = ProfileField.objects.filter(list=email_list)
    if types:
        fields = fields.filter(data_type__in=types)
    return forms.ModelChoiceField(queryset=fields, required=False, **kwargs)


def chosen_pk(cleaned: dict[str, Any], name: str) -> int | None:
    """The id of the row chosen in form field ``name``, or None."""
    chosen = cleaned.get(name)
    return chosen.pk if chosen is not None else None


def write_field(batch: StepBatch, values: dict[int, object]) -> None:
    """Write ``{enrollment id: value}`` (None clears) into the step's field.

    Every profile write goes through contacts' batch service: one set-based
    update and one activity per changed contact, in this transaction. The
    runner has locked the contacts and keeps them current, so they are not
    read again."""
    field = int(batch.step.settings["field"])
    updates = [(e.contact, {field: values[e.pk]}) for e in batch.enrollments if e.pk in values]
    if updates:
        update_profiles(
            email_list=batch.email_list,
            updates=updates,
            update_type=UpdateType.OVERWRITE,
            locked=True,
        )


def entry_date(batch: StepBatch, enrollment: Enrollment) -> datetime.date:
    """The date the contact entered the step, in the list's zone."""
    return enrollment.step_entered_at.astimezone(batch.email_list.zone).date()
