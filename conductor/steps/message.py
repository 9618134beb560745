"""Message: sends one of the list's messages; which one may depend on the
trigger that brought the contact in.

Settings: ``{"message": id, "variants": [{"trigger": id, "message": id}, ...]}``.
"""

from __future__ import annotations

from conductor.models import Step
from conductor.steps.context import VersionContext, label, whole_number


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
    return problems
