"""Enrollments: a contact carried through a conversation's version, and the
log of every step it passed (``StepRun``)."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conductor.models.conversations import Conversation, Step, Thread, Trigger, TriggerKind, Version
from contacts.models import Contact


class EnrollmentState(models.TextChoices):
    ACTIVE = "Active"  # at a step, due at ``due_at``
    HELD = "Held"  # stopped at a step by an error, shown in the admin
    FINISHED = "Finished"  # terminated, or left the conversation
    #: Past a Message step, at the next one, until its email is sent: then
    #: Active (due when that step says); held back at the Message step when
    #: the email fails for good (refused by the mail server, not rendered).
    SENDING = "Sending", "Waiting for its email"


INSIDE = Q(state__in=[EnrollmentState.ACTIVE, EnrollmentState.HELD, EnrollmentState.SENDING])


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
            # The sweep's look for contacts whose email ended without word: a handful.
            models.Index(
                fields=["step_entered_at"],
                name="enrollment_sending",
                condition=Q(state=EnrollmentState.SENDING),
            ),
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
    #: The email a Message step's run sent (at most one: the delivery's
    #: source is this run), for queries such as
    #: ``Delivery.objects.filter(step_run__enrollment__conversation=...)``.
    deliveries = GenericRelation(
        "emails.Delivery",
        content_type_field="source_type",
        object_id_field="source_id",
        related_query_name="step_run",
    )

    class Meta:
        ordering = ["enrollment_id", "visit"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "visit"], name="step_run_once_per_visit"),
        ]
        indexes = [models.Index(fields=["step", "outcome"], name="step_run_step_outcome")]

    def __str__(self) -> str:
        return f"{self.step} for {self.enrollment_id}: {self.outcome}"
