"""Go To: moves the contact to another step of the version: every contact,
or only those matching Listrak-shaped criteria (``conductor.filters``); the
others continue with the next step.

Settings: ``{"target": "<step key>", "criteria": <filter> or null}``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import NEXT, Hold, JumpTo, Outcome
from conductor.filters import criteria_q, parse_criteria
from conductor.models import Step
from conductor.steps.context import VersionContext, label
from contacts.models import Contact


def is_unconditional(step: Step) -> bool:
    return not step.settings.get("criteria")


def target_key(step: Step) -> str:
    return str(step.settings.get("target") or "")


def check(step: Step, context: VersionContext) -> list[str]:
    where = label(step)
    problems: list[str] = []
    target = target_key(step)
    if not target:
        problems.append(f"{where}: choose the step to go to.")
    elif target not in context.steps_by_key:
        problems.append(f"{where}: its target step is not in this version.")
    elif target == str(step.key):
        problems.append(f"{where}: a Go To cannot go to itself.")
    criteria = step.settings.get("criteria")
    if criteria:
        try:
            parse_criteria(context.version.conversation.list, criteria)
        except ValidationError as error:
            problems.extend(f"{where}: {message}" for message in error.messages)
    unknown = set(step.settings) - {"target", "criteria"}
    if unknown:
        problems.append(f"{where}: unknown settings {', '.join(sorted(unknown))}.")
    return problems


def run(batch: StepBatch) -> dict[int, Outcome]:
    """Everybody jumps, or only the contacts the criteria match: one query."""
    target = batch.steps.by_key.get(target_key(batch.step))
    if target is None:  # publishing refuses this; a hand-edited version must not crash
        return {e.pk: Hold("The Go To's target step is missing.") for e in batch.enrollments}
    jump = JumpTo(target)
    if is_unconditional(batch.step):
        return {e.pk: jump for e in batch.enrollments}
    criteria = parse_criteria(batch.email_list, batch.step.settings["criteria"])
    by_contact = {e.contact_id: e.pk for e in batch.enrollments}
    matching = set(
        Contact.objects.filter(pk__in=by_contact)
        .filter(criteria_q(criteria))
        .values_list("pk", flat=True)
    )
    return {pk: jump if contact in matching else NEXT for contact, pk in by_contact.items()}
