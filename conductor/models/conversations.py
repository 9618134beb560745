"""Conversations and what they are made of: the triggers that let contacts
in, the versions, and each version's threads of steps (SPEC section 4).

A conversation is edited as its *working* version (``published_at`` empty);
publishing freezes that version and starts a new working copy. Contacts keep
the version they entered with, so an edit never disturbs contacts in flight.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from conductor.steps.registry import MAX_KIND_LENGTH, kind_choices
from lists.models import Event, List


class ConversationStatus(models.TextChoices):
    UNPUBLISHED = "Unpublished"
    PUBLISHED = "Published"
    PAUSED = "Paused"
    CLOSED = "Closed"


class Conversation(models.Model):
    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="conversations")
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.UNPUBLISHED
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ConversationStatus.values), name="conversation_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TriggerKind(models.TextChoices):
    EXTERNAL_EVENT = "ExternalEvent", "External event"
    SUBSCRIBE = "Subscribe", "First-ever subscription"
    SEGMENT_UPDATE = "SegmentUpdate", "Segment (profile) update"
    ADDRESS_CHANGE = "AddressChange", "Address change"


class Trigger(models.Model):
    """One way into a conversation; a conversation may have several."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="triggers"
    )
    kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    #: The event of an ``ExternalEvent`` trigger (an event of the conversation's list).
    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, null=True, blank=True, related_name="triggers"
    )

    class Meta:
        ordering = ["conversation_id", "kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TriggerKind.values), name="trigger_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind=TriggerKind.EXTERNAL_EVENT, event__isnull=False)
                | (~Q(kind=TriggerKind.EXTERNAL_EVENT) & Q(event__isnull=True)),
                name="trigger_event_only_for_external_events",
            ),
            models.UniqueConstraint(
                fields=["conversation", "kind", "event"], name="trigger_once_per_event"
            ),
            models.UniqueConstraint(
                fields=["conversation", "kind"],
                condition=Q(event__isnull=True),
                name="trigger_once_per_list_event",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: {self.event}" if self.event_id else self.get_kind_display()
        )


class Version(models.Model):
    """A conversation's threads and steps at one time. The working version has
    no ``published_at``; a published one never changes again."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True)
    #: ``{message id: frozen content id}`` of every message its steps send,
    #: written when it is published (``emails.contents.freeze``): what its
    #: emails say, whatever the messages say since. Empty while working.
    message_contents = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["conversation_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "number"], name="version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(published_at__isnull=True),
                name="version_one_working_copy",
            ),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "working"
        return f"{self.conversation} v{self.number} ({state})"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ChildEvent(models.TextChoices):
    """Engagement with the message before a Wait that moves a waiting contact
    into a child thread (built by the engagement issue)."""

    OPENED = "Opened"
    CLICKED_ANY = "ClickedAny", "Clicked any link"
    CLICKED_BROWSER = "ClickedBrowser", "Clicked the browser link"
    CLICKED_PASS_ALONG = "ClickedPassAlong", "Clicked the pass-along link"
    CLICKED_LINK = "ClickedLink", "Clicked a specific link"


class Thread(models.Model):
    """An ordered list of steps: the version's main thread, or a child thread
    hanging off a Wait step."""

    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="threads")
    name = models.CharField(max_length=100, default="Main")
    is_main = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    #: The Wait step a child thread hangs off, and what moves a contact into it.
    parent_step = models.ForeignKey(
        "Step", on_delete=models.CASCADE, null=True, blank=True, related_name="child_threads"
    )
    child_event = models.CharField(max_length=20, choices=ChildEvent.choices, blank=True)
    link_url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["version_id", "-is_main", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"], condition=Q(is_main=True), name="thread_one_main_per_version"
            ),
            models.CheckConstraint(
                condition=Q(is_main=True, parent_step__isnull=True, child_event="")
                | Q(is_main=False, parent_step__isnull=False) & ~Q(child_event=""),
                name="thread_main_or_child_of_a_step",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    """The built-in step kinds' stored names. Which kinds exist is the
    registry's business (``conductor.steps.registry``), not the database's."""

    MESSAGE = "Message"
    GO_TO = "GoTo", "Go To"
    ACTION = "Action"
    WAIT = "Wait"
    TERMINATE = "Terminate"


class Step(models.Model):
    """One step of a thread. Its kind's settings live in ``settings`` and are
    validated by that kind's unit in ``conductor.steps``; ``full_clean``
    refuses a kind no unit is registered for. Steps refer to each other (Go
    To targets) by ``key``, which a version's copy keeps."""

    # Denormalised from ``thread`` so that keys are unique per version.
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="steps")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="steps")
    key = models.UUIDField(default=uuid.uuid4, editable=False)
    position = models.PositiveIntegerField(default=0)
    # Choices read from the registry when used: a new kind changes no migration.
    kind = models.CharField(max_length=MAX_KIND_LENGTH, choices=kind_choices)
    name = models.CharField(max_length=100, blank=True)
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["thread_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="step_key_unique_per_version"),
        ]

    def __str__(self) -> str:
        return self.name or self.get_kind_display()

    def save(self, *args, **kwargs) -> None:
        if self.thread_id and not self.version_id:
            self.version_id = self.thread.version_id
        super().save(*args, **kwargs)
