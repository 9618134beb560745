"""Forms for conversations, their triggers and their child threads."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from conductor.models import Conversation, Step, Thread, Trigger, TriggerKind, Version
from conductor.steps.registry import waiting_kinds


class ConversationAddForm(forms.ModelForm):
    """A new conversation: its list and name (``create_conversation`` does the rest)."""

    class Meta:
        model = Conversation
        fields = ["list", "name"]


class TriggerForm(forms.ModelForm):
    class Meta:
        model = Trigger
        fields = ["kind", "event"]

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns its cleaned_data
        cleaned = self.cleaned_data
        kind, event = cleaned.get("kind"), cleaned.get("event")
        if kind == TriggerKind.EXTERNAL_EVENT and event is None:
            self.add_error("event", "Choose the event of an external-event trigger.")
        elif kind and kind != TriggerKind.EXTERNAL_EVENT and event is not None:
            self.add_error("event", "Only an external-event trigger has an event.")
        return cleaned


class ChildThreadForm(forms.ModelForm):
    """A child thread: the Wait step of the working version it hangs off (a
    step of a kind that waits), and the engagement that moves a waiting
    contact into it."""

    #: Set by the admin: the working version the thread belongs to.
    version: Version | None = None
    link_url = forms.URLField(
        max_length=2000, required=False, assume_scheme="https", label="Link URL"
    )

    class Meta:
        model = Thread
        fields = ["name", "parent_step", "child_event", "link_url"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version = self.instance.version if self.instance.pk else self.version
        parent_step = cast(forms.ModelChoiceField, self.fields["parent_step"])  # a ForeignKey's
        parent_step.queryset = Step.objects.filter(
            version=version, kind__in=waiting_kinds()
        ).select_related("thread")
        parent_step.required = True
        parent_step.label = "Wait step"
        self.fields["child_event"].required = True
        self.fields["link_url"].help_text = "Only for “Clicked a specific link”."

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns its cleaned_data
        cleaned = self.cleaned_data
        if cleaned.get("child_event") == "ClickedLink" and not cleaned.get("link_url"):
            self.add_error("link_url", "Give the link whose click starts this thread.")
        return cleaned


class MainThreadForm(forms.ModelForm):
    class Meta:
        model = Thread
        fields = ["name"]
