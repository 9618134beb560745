"""Message: sends one of the list's messages; which one may depend on the
trigger that brought the contact in.

Settings: ``{"message": id, "variants": [{"trigger": id, "message": id}, ...]}``.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from django import forms
from django.db import transaction

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import AWAIT_EMAIL, Finish, Hold, Outcome
from conductor.engine.step_coupons import coupons_of
from conductor.engine.step_emails import delivery_of
from conductor.forms.base import Fieldsets, StepForm
from conductor.models import Step, StepKind, Trigger, Version
from conductor.steps.context import Names, VersionContext, label, whole_number
from conductor.steps.references import MESSAGE, TRIGGER, Reference
from conductor.steps.unit import StepKindUnit
from contacts.models import SubscriptionState
from core.bulk import create_rows
from emails.contents import as_sent
from emails.models import Message, MessageContent
from emails.render import TemplateProblem, check_templates
from emails.sending.delivery import blocked_addresses, queue_deliveries


class Variant(TypedDict):
    trigger: int
    message: int


class MessageSettings(TypedDict):
    message: int | None
    variants: list[Variant]


def _variant_field(trigger: Trigger) -> str:
    return f"variant_{trigger.pk}"


class MessageStepForm(StepForm):
    """The message to send, and optionally another message per trigger: one
    choice per trigger of the conversation (a blank one sends the main message)."""

    settings_fieldsets = [
        ("Message", {"fields": ["message"]}),
    ]
    problem_fields = [("variant", None), ("message", "message")]

    message = forms.ModelChoiceField(queryset=Message.objects.none(), required=False)

    def add_setting_fields(self) -> None:
        messages = Message.objects.filter(list=self.email_list)
        cast(forms.ModelChoiceField, self.fields["message"]).queryset = messages  # declared above
        self.triggers = list(Trigger.objects.filter(conversation_id=self.version.conversation_id))
        for trigger in self.triggers:
            self.fields[_variant_field(trigger)] = forms.ModelChoiceField(
                queryset=messages,
                required=False,
                label=f"For contacts brought in by {trigger}",
                help_text="Blank: the message above.",
            )

    @classmethod
    def layout(cls, version: Version) -> Fieldsets:
        triggers = Trigger.objects.filter(conversation_id=version.conversation_id)
        variants = [_variant_field(trigger) for trigger in triggers]
        extra: Fieldsets = [("Per-trigger variants", {"fields": variants})] if variants else []
        return [*super().layout(version), *extra]

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"message": settings.get("message")}
        for variant in settings.get("variants") or []:
            if isinstance(variant, dict):
                initial[f"variant_{variant.get('trigger')}"] = variant.get("message")
        return initial

    def settings_from(self, cleaned: dict[str, Any]) -> MessageSettings:
        message = cleaned.get("message")
        variants: list[Variant] = [
            {"trigger": trigger.pk, "message": cleaned[_variant_field(trigger)].pk}
            for trigger in self.triggers
            if cleaned.get(_variant_field(trigger))
        ]
        return {"message": message.pk if message else None, "variants": variants}


def _unsendable(message_ids: set[int], contents: dict[int, int]) -> dict[int, str]:
    """``{message id: why it cannot be sent}`` of these messages, as the
    version sends them (``contents``: their frozen content ids): gone, or a
    template that does not compile. Each is compiled once per batch, not
    rendered per contact; what only rendering finds (a filter failing on a
    contact's value) skips that one email when it is sent."""
    messages = Message.objects.in_bulk(message_ids)
    frozen = MessageContent.objects.in_bulk(set(contents.values()))
    unsendable: dict[int, str] = {}
    for message_id in sorted(message_ids):
        message = messages.get(message_id)
        if message is None:
            unsendable[message_id] = f"Not sent: message {message_id} no longer exists."
            continue
        try:
            check_templates(as_sent(message, frozen.get(contents.get(message_id, 0))))
        except TemplateProblem as problem:
            words = str(problem)
            end = "" if words.endswith((".", "?", "!")) else "."
            unsendable[message_id] = (
                f"Not sent: message “{message.name}” cannot be rendered: {words}{end} "
                "Fix the message, then resume the contact."
            )
    return unsendable


class MessageUnit(StepKindUnit):
    kind = StepKind.MESSAGE
    label = StepKind.MESSAGE.label
    form = MessageStepForm
    colour = "#dbeafe"
    references = (
        Reference("message", MESSAGE),
        Reference("variants[].trigger", TRIGGER),
        Reference("variants[].message", MESSAGE),
    )
    sends_messages = True

    def check(self, step: Step, context: VersionContext) -> list[str]:
        where = label(step)
        problems: list[str] = []
        message = whole_number(step.settings.get("message"))
        if message is None:
            problems.append(f"{where}: choose the message to send.")
        elif message not in context.messages:
            problems.append(f"{where}: message {message} is not a message of this list.")
        seen: set[int] = set()
        variants = step.settings.get("variants") or []
        for index, variant in enumerate(variants):
            trigger = whole_number(variant.get("trigger")) if isinstance(variant, dict) else None
            chosen = whole_number(variant.get("message")) if isinstance(variant, dict) else None
            if trigger is None or trigger not in context.triggers:
                problems.append(
                    f"{where}: variant {index + 1} names no trigger of this conversation."
                )
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
            for variant in variants
            if isinstance(variant, dict)
        }
        checked = sorted(pk for pk in sent if pk in context.messages)
        for listed in context.message_problems(checked).values():
            problems.extend(f"{where}: {problem}" for problem in listed)
        return problems

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        """Queue one delivery per contact that may be mailed now; a contact
        that is unsubscribed, banned or suppressed leaves the conversation
        instead. A contact whose message cannot be rendered is held here with
        the reason, and no delivery is written: once staff fix the message
        and resume the contact, the step runs again and sends it then.

        A contact whose email is queued goes to the next step but waits there
        until the email is sent; should it fail for good (the mail server
        refuses it, or it cannot be rendered for this contact), the contact
        is held back here with the reason (``engine.email_outcomes``)."""
        settings = batch.step.settings
        by_trigger = {v["trigger"]: v["message"] for v in settings.get("variants") or []}
        blocked = blocked_addresses(batch.email_list, batch.contacts)
        outcomes: dict[int, Outcome] = {}
        sending: dict[int, int] = {}  # the message of each enrollment that may be mailed
        for enrollment in batch.enrollments:
            contact = enrollment.contact
            if contact.state != SubscriptionState.SUBSCRIBED or contact.email in blocked:
                why = blocked.get(contact.email) or f"the contact is {contact.state.lower()}"
                outcomes[enrollment.pk] = Finish(reason=f"Not sent: {why}.", skipped=True)
                continue
            sending[enrollment.pk] = by_trigger.get(enrollment.trigger_id, settings["message"])
        # A published version sends its messages as they were when it was published.
        published = batch.step.version.message_contents
        contents = {pk: published[str(pk)] for pk in set(sending.values()) if str(pk) in published}
        unsendable = _unsendable(set(sending.values()), contents)
        coupons = coupons_of(batch)
        deliveries = []
        for enrollment in batch.enrollments:
            if (message_id := sending.get(enrollment.pk)) is None:
                continue
            if message_id in unsendable:
                outcomes[enrollment.pk] = Hold(unsendable[message_id])
                continue
            run = batch.runs[enrollment.pk]
            content = contents.get(message_id)
            coupon = coupons.get(enrollment.pk)
            deliveries.append(
                delivery_of(run, enrollment, message_id, batch.now, content, coupon=coupon)
            )
            outcomes[enrollment.pk] = AWAIT_EMAIL
        create_rows(deliveries)
        if deliveries:
            transaction.on_commit(queue_deliveries)
        return outcomes

    def summary(self, step: Step, names: Names) -> str:
        variants = len(step.settings.get("variants") or [])
        more = f" (+{variants} by trigger)" if variants else ""
        message = step.settings.get("message")
        return names.messages.get(message, "no message chosen") + more
