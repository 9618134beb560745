"""The Segment source: integrations, the lists they sync, and their outbox.

An integration's messages are written to :class:`SegmentMessage` (the outbox)
in the transaction of the change they describe, each already serialized, and
sent later by workers (``integrations.segment.delivery``). Messages are
partitioned into :data:`SHARDS` shards by contact; a worker leases a whole
:class:`SegmentShard` and sends its messages in id order, which keeps each
contact's messages in the order they happened.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lists.models import List, ProfileField

DEFAULT_ENDPOINT = "https://api.segment.io"

#: Shards per integration: how many workers can send one integration's
#: messages side by side. A message's shard is fixed when it is written
#: (``contact_id % SHARDS``), so this must not change while messages wait.
SHARDS = 64


class SegmentIntegration(models.Model):
    """A Segment source: where to send, with which write key, and whether to."""

    name = models.CharField(max_length=200, unique=True)
    #: Sent as the HTTP Basic user; never shown in full again, never logged.
    write_key = models.CharField(max_length=200)
    endpoint = models.URLField(
        default=DEFAULT_ENDPOINT,
        help_text="https://api.segment.io, or https://events.eu1.segmentapis.com for the EU.",
    )
    enabled = models.BooleanField(
        default=True,
        help_text="While off, no messages are written and waiting ones are held back.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "Segment integration"
        constraints = [
            models.CheckConstraint(condition=~Q(write_key=""), name="segment_write_key_set"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_write_key(self) -> str:
        """The write key as the admin may show it: its last four characters."""
        return mask(self.write_key)


def mask(secret: str) -> str:
    """``••••abcd``: enough to recognise a key, never enough to use it."""
    return f"••••{secret[-4:]}" if len(secret) > 8 else "••••"


class SegmentListSync(models.Model):
    """A list an integration syncs, with the profile field whose value becomes
    ``userId`` (optional; it must be a field of that list)."""

    integration = models.ForeignKey(
        SegmentIntegration, on_delete=models.CASCADE, related_name="list_syncs"
    )
    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="segment_syncs")
    user_id_field = models.ForeignKey(
        ProfileField,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="userId field",
        help_text="The profile field whose value becomes userId (identify only).",
    )
    #: The backfill: when it was asked for (it starts SEGMENT_LIST_CACHE_SECONDS
    #: later), the last address done (keyset order), and when it ended.
    backfill_requested_at = models.DateTimeField(default=timezone.now, editable=False)
    backfill_after = models.CharField(max_length=254, blank=True, editable=False)
    backfilled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["integration_id", "list_id"]
        verbose_name = "synced list"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "list"], name="segment_sync_one_per_list"
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(backfilled_at__isnull=True),
                name="segment_sync_backfilling",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.list} → {self.integration}"

    def save(self, *args, **kwargs) -> None:
        # A userId field of another list would silently send no userId at all.
        self._check_field()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self._check_field()

    def _check_field(self) -> None:
        if self.user_id_field_id is None or self.list_id is None:
            return
        field_list = (
            ProfileField.objects.filter(pk=self.user_id_field_id)
            .values_list("list_id", flat=True)
            .first()
        )
        if field_list != self.list_id:
            raise ValidationError(
                {"user_id_field": f"Profile field {self.user_id_field_id} is not on this list."}
            )


class SegmentShard(models.Model):
    """One partition of an integration's outbox, leased by one worker at a time.

    ``not_before`` holds the whole shard back after a failed request, so a
    message waiting for its retry is never overtaken by a later one of its
    contact.
    """

    integration = models.ForeignKey(
        SegmentIntegration, on_delete=models.CASCADE, related_name="shards"
    )
    number = models.PositiveSmallIntegerField()
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    #: Kept here, not counted from rows: delivered messages are deleted.
    delivered_count = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["integration_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "number"], name="segment_shard_unique"),
            models.CheckConstraint(condition=Q(number__lt=SHARDS), name="segment_shard_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.integration} shard {self.number}"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DEAD = "dead", "Dead letter"


class SegmentMessage(models.Model):
    """One identify or track call waiting in the outbox (delivered ones are
    deleted). ``payload`` is its JSON, ready to send, without ``sentAt``
    (added at each attempt); ``message_id`` is inside it too."""

    integration = models.ForeignKey(
        SegmentIntegration, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    shard = models.PositiveSmallIntegerField()
    # The contact the message is about: only its shard and the admin use it.
    contact_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.UUIDField(default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, help_text="identify, or the track event's name.")
    payload = models.TextField()
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    #: The last failed attempt: the HTTP status (None without an answer) and
    #: how staff may see it (``Answer.describe``: never the body, which only
    #: the log gets).
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "Segment message"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="segment_message_status_valid"
            ),
            models.CheckConstraint(condition=Q(shard__lt=SHARDS), name="segment_message_shard"),
        ]
        indexes = [
            # The workers' hot query: a shard's waiting messages in order.
            models.Index(
                fields=["integration", "shard", "id"],
                condition=Q(status="pending"),
                name="segment_message_pending",
            ),
            models.Index(
                fields=["integration", "id"],
                condition=Q(status="dead"),
                name="segment_message_dead",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id}"
