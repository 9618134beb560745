"""Warnings about a conversation's triggers that do not stop publishing but
would surprise a marketer."""

from __future__ import annotations

from conductor.models import Conversation, Step, StepKind, Trigger, TriggerKind
from conductor.steps.context import label
from conductor.versions import working_version


def variant_warnings(conversation: Conversation) -> list[str]:
    """A Message step's variant for an external event trigger, in a
    conversation that also has the First-ever subscription trigger: a signup
    form (or an API call with eventIds) subscribes the contact before it fires
    the event, so the contact enters by the subscription, one enrollment at a
    time, and gets the step's default message, never that variant."""
    triggers = {t.pk: t for t in conversation.triggers.select_related("event")}
    if not any(t.kind == TriggerKind.SUBSCRIBE for t in triggers.values()):
        return []
    steps = Step.objects.filter(
        version=working_version(conversation), kind=StepKind.MESSAGE
    ).select_related("thread")
    warnings = []
    for step in steps.order_by("thread__id", "position"):
        for variant in step.settings.get("variants") or []:
            trigger_id = variant.get("trigger") if isinstance(variant, dict) else None
            trigger = triggers.get(trigger_id) if isinstance(trigger_id, int) else None
            if trigger is None or trigger.kind != TriggerKind.EXTERNAL_EVENT:
                continue
            warnings.append(_words(step, trigger))
    return warnings


def _words(step: Step, trigger: Trigger) -> str:
    event = trigger.event.name if trigger.event else "?"
    return (
        f"{label(step)} has a variant for “External event: {event}”, but this conversation "
        "also starts on “First-ever subscription”. A new subscriber whose signup fires that "
        "event (a signup form, or the API's eventIds) is subscribed first, so enters by the "
        "subscription and gets the default message. To send the variant, remove the "
        "“First-ever subscription” trigger and let each way in fire its own event."
    )
