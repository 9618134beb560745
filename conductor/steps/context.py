"""What checking or describing a step needs to know about its version and
list, loaded once: ``VersionContext`` for checks, ``Names`` for summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field  # Names has a method named field
from functools import cached_property
from typing import Any

from conductor.engine.step_coupons import gives_coupon
from conductor.models import CouponPool, Step, Trigger, Version
from emails.models import Message
from emails.template_checks import described_problems, merge_fields_used
from lists.models import Event, ProfileField


@dataclass
class VersionContext:
    version: Version
    steps: list[Step] = field(default_factory=list)
    #: The whole version is checked (not one step being saved): problems that
    #: depend on steps a marketer may still add (a Set Coupon action) count.
    publishing: bool = False
    _message_problems: dict[int, list[str]] = field(default_factory=dict, repr=False)

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
    def gives_coupons(self) -> bool:
        """Whether a step of the version is a Set Coupon action."""
        return any(gives_coupon(step) for step in self.steps)

    def message_problems(self, message_ids: Iterable[int]) -> dict[int, list[str]]:
        """What would break the emails of those of the list's messages: their
        tracked links' addresses and their templates (syntax, merge fields
        the list lacks; ``emails.template_checks``), and ``{{ coupon }}`` in
        a version with no Set Coupon action to give one; by message id, each
        naming its message. Each message is checked once per context."""
        wanted = set(message_ids) - set(self._message_problems)
        if wanted:
            fields = list(self.fields.values())
            messages = Message.objects.filter(list_id=self.list_id, pk__in=wanted)
            for message in messages.select_related("list"):
                problems = [
                    f"message “{message.name}”: {problem}"
                    for problem in described_problems(message, fields)
                ]
                uses_coupon = "coupon" in merge_fields_used(message)
                if self.publishing and uses_coupon and not self.gives_coupons:
                    problems.append(
                        f"message “{message.name}” uses {{{{ coupon }}}}, but this "
                        "conversation has no Set Coupon action to give one."
                    )
                self._message_problems[message.pk] = problems
        return {pk: self._message_problems.get(pk, []) for pk in message_ids}

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


@dataclass
class Names:
    """The list's names that step summaries mention, loaded once per diagram."""

    messages: dict[int, str]
    fields: dict[int, str]
    pools: dict[int, str]
    events: dict[int, str]
    steps: dict[str, Step]
    #: Each profile field's data type, so that criteria read in the type's words.
    field_types: dict[int, str] = dataclass_field(default_factory=dict)

    @classmethod
    def of(cls, version: Version, steps: list[Step]) -> Names:
        """The names of ``version``'s list, and ``steps`` by key."""
        list_id = version.conversation.list_id

        def names(model: Any) -> dict[int, str]:
            return dict(model.objects.filter(list_id=list_id).values_list("pk", "name"))

        return cls(
            messages=names(Message),
            fields=names(ProfileField),
            pools=names(CouponPool),
            events=names(Event),
            steps={str(step.key): step for step in steps},
            field_types=dict(
                ProfileField.objects.filter(list_id=list_id).values_list("pk", "data_type")
            ),
        )

    def field(self, settings: dict[str, Any], key: str = "field") -> str:
        """The name of the profile field ``settings[key]`` names, or "?"."""
        return self.fields.get(settings.get(key), "?")  # type: ignore[arg-type]  # None when unset: finds no name


def step_label(step: Step) -> str:
    """How the diagram names a step: its thread and number."""
    return f"{step.thread.name} #{step.position + 1}"


def label(step: Step) -> str:
    """How problems name a step: its thread, position and name."""
    name = f" ({step.name})" if step.name else ""
    return f"{step.thread.name} step {step.position + 1}, {step.get_kind_display()}{name}"


def whole_number(value: object) -> int | None:
    """``value`` if it is a whole number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
