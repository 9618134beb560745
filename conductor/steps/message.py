"""Message: sends one of the list's messages; which one may depend on the
trigger that brought the contact in.

Settings: ``{"message": id, "variants": [{"trigger": id, "message": id}, ...]}``.
"""

from __future__ import annotations

from django.db import transaction

from conductor.engine.batch import StepBatch
from conductor.engine.delivery import blocked_addresses, queue_deliveries
from conductor.engine.outcomes import NEXT, Finish, Outcome
from conductor.models import Delivery, Step
from conductor.steps.context import VersionContext, label, whole_number
from contacts.bulk import create_rows
from contacts.models import SubscriptionState


def check(step: Step, context: VersionContext) -> list[str]:
    where = label(step)
    problems: list[str] = []
    message = whole_number(step.settings.get("message"))
    if message is None:
        problems.append(f"{where}: choose the message to send.")
    elif message not in context.messages:
        problems.append(f"{where}: message {message} is not a message of this list.")
    seen: set[int] = set()
    for index, variant in enumerate(step.settings.get("variants") or []):
        trigger = whole_number(variant.get("trigger")) if isinstance(variant, dict) else None
        chosen = whole_number(variant.get("message")) if isinstance(variant, dict) else None
        if trigger is None or trigger not in context.triggers:
            problems.append(f"{where}: variant {index + 1} names no trigger of this conversation.")
        elif trigger in seen:
            problems.append(f"{where}: two variants for the same trigger.")
        else:
            seen.add(trigger)
        if chosen is None or chosen not in context.messages:
            problems.append(f"{where}: variant {index + 1} names no message of this list.")
    unknown = set(step.settings) - {"message", "variants"}
    if unknown:
        problems.append(f"{where}: unknown settings {', '.join(sorted(unknown))}.")
    sent = {message} | {
        whole_number(variant.get("message"))
        for variant in step.settings.get("variants") or []
        if isinstance(variant, dict)
    }
    for chosen in sorted(pk for pk in sent if pk in context.messages):
        problems.extend(f"{where}: {problem}" for problem in context.link_problems.get(chosen, []))
    return problems


def run(batch: StepBatch) -> dict[int, Outcome]:
    """Queue one delivery per contact that may be mailed now; a contact that
    is unsubscribed, banned or suppressed leaves the conversation instead."""
    settings = batch.step.settings
    by_trigger = {v["trigger"]: v["message"] for v in settings.get("variants") or []}
    blocked = blocked_addresses(batch.email_list, batch.contacts)
    outcomes: dict[int, Outcome] = {}
    deliveries = []
    for enrollment in batch.enrollments:
        contact = enrollment.contact
        if contact.state != SubscriptionState.SUBSCRIBED or contact.email in blocked:
            why = blocked.get(contact.email) or f"the contact is {contact.state.lower()}"
            outcomes[enrollment.pk] = Finish(reason=f"Not sent: {why}.", skipped=True)
            continue
        message_id = by_trigger.get(enrollment.trigger_id, settings["message"])
        deliveries.append(
            Delivery(
                step_run=batch.runs[enrollment.pk],
                message_id=message_id,
                contact=contact,
                created_at=batch.now,
            )
        )
        outcomes[enrollment.pk] = NEXT
    create_rows(deliveries)
    if deliveries:
        transaction.on_commit(queue_deliveries)
    return outcomes
