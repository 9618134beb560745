"""What checking a step needs to know about its version and list, loaded once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from conductor.models import CouponPool, Message, Step, Trigger, Version
from conductor.tracking.links import address_problems
from lists.models import Event, ProfileField


@dataclass
class VersionContext:
    version: Version
    steps: list[Step] = field(default_factory=list)

    @cached_property
    def list_id(self) -> int:
        return self.version.conversation.list_id

    @cached_property
    def steps_by_key(self) -> dict[str, Step]:
        return {str(step.key): step for step in self.steps}

    @cached_property
    def fields(self) -> dict[int, ProfileField]:
        return {f.pk: f for f in ProfileField.objects.filter(list_id=self.list_id)}

    @cached_property
    def events(self) -> dict[int, Event]:
        return {e.pk: e for e in Event.objects.filter(list_id=self.list_id)}

    @cached_property
    def messages(self) -> set[int]:
        return set(Message.objects.filter(list_id=self.list_id).values_list("pk", flat=True))

    @cached_property
    def link_problems(self) -> dict[int, list[str]]:
        """The problems of the list's messages' tracked links
        (``links.address_problems``), by message id, each naming its message."""
        found: dict[int, list[str]] = {}
        messages = Message.objects.filter(list_id=self.list_id)
        for message in messages.only("pk", "name", "html_body", "text_body"):
            problems = address_problems(message)
            if problems:
                found[message.pk] = [
                    f"message “{message.name}”: {problem}"
                    for listed in problems.values()
                    for problem in listed
                ]
        return found

    @cached_property
    def coupon_pools(self) -> set[int]:
        return set(CouponPool.objects.filter(list_id=self.list_id).values_list("pk", flat=True))

    @cached_property
    def triggers(self) -> set[int]:
        return set(
            Trigger.objects.filter(conversation_id=self.version.conversation_id).values_list(
                "pk", flat=True
            )
        )


def label(step: Step) -> str:
    """How problems name a step: its thread, position and name."""
    name = f" ({step.name})" if step.name else ""
    return f"{step.thread.name} step {step.position + 1}, {step.get_kind_display()}{name}"


def whole_number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
