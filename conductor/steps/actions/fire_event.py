"""FireEvent: fires an external event of the list for every contact, which
may bring them into other conversations.

Settings: ``{"action": "FireEvent", "event": id}``.
"""

from __future__ import annotations

from typing import Any

from django import forms

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Outcome
from conductor.models import Step
from conductor.steps.actions.base import ActionKindUnit, ActionSettings, chosen_pk
from conductor.steps.context import Names, VersionContext, label, whole_number
from conductor.steps.references import EVENT, Reference
from contacts.services import fire_events
from lists.models import Event, List


class FireEventSettings(ActionSettings):
    event: int | None


class FireEvent(ActionKindUnit):
    kind = "FireEvent"
    choice_label = "Fire an external event"
    title = "Fire event"
    references = (Reference("event", EVENT),)
    problem_fields = [("event", "event")]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        if whole_number(step.settings.get("event")) not in context.events:
            return [f"{label(step)}: event must be an event of this list."]
        return []

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        event = Event.objects.get(pk=batch.step.settings["event"])
        fire_events(event=event, contacts=batch.contacts)
        return {}

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        return f"fire {names.events.get(settings.get('event'), '?')}"  # type: ignore[arg-type]  # None when unset: finds no name

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        events = Event.objects.filter(list=email_list)
        return {"event": forms.ModelChoiceField(queryset=events, required=False)}

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {"event": settings.get("event")}

    def settings_from(self, cleaned: dict[str, Any]) -> FireEventSettings:
        return {"action": self.kind, "event": chosen_pk(cleaned, "event")}
