"""Conversations: versions of threads of steps, the triggers that let contacts
in, and the enrollments that carry each contact through (SPEC section 4).

A conversation is edited as its *working* version (``published_at`` empty);
publishing freezes that version and starts a new working copy. Contacts keep
the version they entered with, so an edit never disturbs contacts in flight.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conductor.steps.registry import MAX_KIND_LENGTH, kind_choices
from conductor.tracking.link_text import address_problems
from contacts.models import Contact
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


class EnrollmentState(models.TextChoices):
    ACTIVE = "Active"  # at a step, due at ``due_at``
    HELD = "Held"  # stopped at a step by an error, shown in the admin
    FINISHED = "Finished"  # terminated, or left the conversation


INSIDE = Q(state__in=[EnrollmentState.ACTIVE, EnrollmentState.HELD])


class Enrollment(models.Model):
    """A contact inside a conversation: at most one per contact and
    conversation at a time."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="enrollments"
    )
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="enrollments")
    # Indexed by enrollment_contact below; the foreign key's own index would be a twin.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    trigger_kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    trigger = models.ForeignKey(
        Trigger, on_delete=models.SET_NULL, null=True, blank=True, related_name="enrollments"
    )
    #: What brought the contact in (the event's data, the old address…), for merge fields.
    trigger_details = models.JSONField(default=dict, blank=True)
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="enrollments")
    # Indexed by enrollment_step_state, which leads with it: an enrollment
    # moves on every step, and each index is one more write per move.
    step = models.ForeignKey(
        Step,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrollments",
        db_index=False,
    )
    state = models.CharField(
        max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    #: How many steps the contact has entered: the step run of each visit is unique.
    visit = models.PositiveIntegerField(default=1)
    step_entered_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)
    held_reason = models.TextField(blank=True)
    entered_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: Triggers that fired for the contact while it was inside, and were ignored.
    ignored_triggers = models.PositiveIntegerField(default=0)
    #: A worker's claim on a due enrollment; another may take it after ``claim_expires_at``.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["conversation_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "contact"], condition=INSIDE, name="enrollment_one_inside"
            ),
            models.CheckConstraint(
                condition=Q(state__in=EnrollmentState.values), name="enrollment_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state=EnrollmentState.ACTIVE) | Q(due_at__isnull=False),
                name="enrollment_active_is_due",
            ),
            models.CheckConstraint(
                condition=~Q(state=EnrollmentState.FINISHED) | Q(finished_at__isnull=False),
                name="enrollment_finished_has_date",
            ),
        ]
        indexes = [
            # The sweep's query: active enrollments by due time.
            models.Index(
                fields=["due_at"],
                name="enrollment_due",
                condition=Q(state=EnrollmentState.ACTIVE),
            ),
            models.Index(fields=["step", "state"], name="enrollment_step_state"),
            models.Index(fields=["contact"], name="enrollment_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.conversation}"


class StepOutcome(models.TextChoices):
    """How a step visit ended. A contact stopped by an error has no run yet:
    its enrollment is ``Held`` with the reason, and the visit runs when it resumes."""

    PASSED = "Passed"
    TERMINATED = "Terminated"
    SKIPPED = "Skipped"  # e.g. a message not sent to an unsubscribed address


class StepRun(models.Model):
    """The log of every step a contact passed: one row per enrollment and
    visit, so a step can never run twice for the same visit."""

    # Both indexed by the composite indexes below that lead with them: a
    # step run is written for every step a contact passes, and every index
    # is one more write.
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    visit = models.PositiveIntegerField()
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="runs", db_index=False)
    outcome = models.CharField(max_length=12, choices=StepOutcome.choices)
    ran_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["enrollment_id", "visit"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "visit"], name="step_run_once_per_visit"),
        ]
        indexes = [models.Index(fields=["step", "outcome"], name="step_run_step_outcome")]

    def __str__(self) -> str:
        return f"{self.step} for {self.enrollment_id}: {self.outcome}"


class Message(models.Model):
    """An email of a list: Django templates for subject, HTML and text, with
    merge fields for profile values, the coupon and the trigger."""

    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="messages")
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=500)
    html_body = models.TextField(blank=True)
    text_body = models.TextField()
    from_name = models.CharField(max_length=200, blank=True, help_text="The list's when blank.")
    from_email = models.EmailField(blank=True, help_text="The list's when blank.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse tracked links whose address comes from a merge field
        (``conductor.tracking.link_text.address_problem``), on the body holding them."""
        problems = address_problems(self)
        if problems:
            raise ValidationError(problems)


class CouponKind(models.TextChoices):
    STATIC = "Static"  # one code for everybody
    UNIQUE = "Unique"  # one code per contact, never handed out twice


class CouponPool(models.Model):
    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="coupon_pools")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=CouponKind.choices, default=CouponKind.UNIQUE)
    static_code = models.CharField(max_length=100, blank=True)
    #: Unique codes expiring on or before this date are never handed out.
    expiry_cutoff = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CouponKind.values), name="coupon_pool_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=CouponKind.STATIC) | ~Q(static_code=""),
                name="coupon_pool_static_has_code",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    """A unique code of a pool; ``step_run`` is the step visit that handed it out."""

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=100)
    expires_on = models.DateField(null=True, blank=True)
    step_run = models.OneToOneField(
        StepRun, on_delete=models.PROTECT, null=True, blank=True, related_name="coupon"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pool_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "code"], name="coupon_code_unique_per_pool"),
        ]
        indexes = [
            models.Index(
                fields=["pool", "expires_on"],
                name="coupon_available",
                condition=Q(step_run__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.code


class DeliveryStatus(models.TextChoices):
    PENDING = "Pending"
    SENDING = "Sending"  # claimed by a worker, not yet handed to the mail server
    HANDED = "Handed"  # handed to the mail server; its answer not yet recorded
    SENT = "Sent"
    SKIPPED = "Skipped"  # unsubscribed, banned or suppressed at send time
    #: The worker stopped (or the connection dropped) while the mail server
    #: had the email: it may or may not have gone out. Never sent again
    #: unless staff choose to resend it (Conductor, Deliveries).
    UNCERTAIN = "Uncertain"
    FAILED = "Failed"  # emails left Sending by workers before Handed existed


#: The statuses of a delivery whose email may have reached its contact: its
#: opens, clicks, bounces and complaints count.
MAY_HAVE_GONE_OUT = (DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN, DeliveryStatus.FAILED)


class Delivery(models.Model):
    """The email of one Message step visit: written with the step's run, sent
    after that commits, by whichever worker claims it first
    (``conductor.engine.delivery``). At most once: only the emails a worker
    has handed to its connections and not yet heard back about (at most two
    per connection: ``2 * EMAIL_CONNECTIONS`` per worker) can be left
    ``Uncertain`` by a crash;
    the rest of its claim goes back to ``Pending`` for another worker."""

    step_run = models.OneToOneField(StepRun, on_delete=models.CASCADE, related_name="delivery")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="deliveries")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    #: The claim of the worker sending it; on a Sent delivery, set until its
    #: "sent" activity is recorded (a worker that dies leaves that to the sweep).
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    #: The merge fields the email was rendered with, so its browser version
    #: and its links show what the contact received, not today's profile.
    merge_context = models.JSONField(default=dict, blank=True, editable=False)
    #: The subject as rendered for the contact: what Segment reports of every
    #: activity of this email (empty for emails sent before it was kept).
    subject = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="delivery_unsent",
                condition=Q(status__in=["Pending", "Sending", "Handed"]),
            ),
            # Sent emails whose activity is not yet recorded: a handful at a time.
            models.Index(
                fields=["claim_expires_at"],
                name="delivery_sent_unrecorded",
                condition=Q(status="Sent") & ~Q(claim_token=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message} to {self.contact}: {self.status}"


class MessageLink(models.Model):
    """A link of a message, as written in its template: the stable id that
    tracked links and click reports name. A tracked link can only lead to
    one of these, rendered for the contact who clicked."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="links")
    url = models.TextField(help_text="The link's address as written in the template.")
    #: sha256 of ``url``: unique per message without indexing long text.
    url_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["message_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "url_hash"], name="message_link_once"),
        ]

    def __str__(self) -> str:
        return self.url
