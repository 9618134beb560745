"""Broadcasts (Listrak's list ``Message``: one email sent once to a list or
to part of it, now or at a set time), the campaigns that group them, saved
audiences, split tests, saved messages, and transactional messages with
each of their sends."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from emails.models import Message, MessageContent
from lists.models import List


class Campaign(models.Model):
    """A name grouping a list's broadcasts (Listrak's ``Campaign``): what
    Segment's ``campaign_name`` says of their emails."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SavedAudience(models.Model):
    """Named filter criteria of a list (``conductor.filters``): who a
    broadcast goes to, chosen again by name."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="saved_audiences")
    name = models.CharField(max_length=200)
    #: ``{"filters": [...]}`` as a Go To step's criteria.
    criteria = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    modified_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["list", "name"], name="saved_audience_name_once"),
        ]

    def __str__(self) -> str:
        return self.name


class BroadcastStatus(models.TextChoices):
    DRAFT = "Draft"  # written, not yet scheduled
    SCHEDULED = "Scheduled"  # to start at ``send_at``
    SENDING = "Sending"  # its recipients chosen and being sent to
    SENT = "Sent"  # every email ended (sent, or not sent with its reason)
    CANCELLED = "Cancelled"


class Broadcast(models.Model):
    """One email sent once to a list's subscribed contacts, or to those
    matching filter criteria or a saved audience, when ``send_at`` comes.

    Starting it freezes its message's content and chooses its recipients in
    the database, a slice of contacts at a time (``broadcasts.sending``):
    each becomes a ``Delivery`` naming the broadcast, at most one per contact
    (the deliveries' unique key), which the emails app sends and blocks at
    send time for contacts that may not be mailed then."""

    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="broadcasts")
    name = models.CharField(max_length=200)
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="broadcasts")
    #: The message as it was when sending started: every email renders this.
    content = models.ForeignKey(
        MessageContent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="broadcasts"
    )
    external_campaign_id = models.CharField("external campaign id", max_length=100, blank=True)
    google_analytics_campaign_name = models.CharField(max_length=200, blank=True)
    #: Filter criteria (``{"filters": [...]}``); empty: every subscribed contact.
    criteria = models.JSONField(default=dict, blank=True)
    saved_audience = models.ForeignKey(
        SavedAudience, on_delete=models.PROTECT, null=True, blank=True, related_name="broadcasts"
    )
    send_at = models.DateTimeField("send at", null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=BroadcastStatus.choices, default=BroadcastStatus.DRAFT
    )
    #: Listrak's test messages (``includeTestMessages``): sent to one address.
    is_test = models.BooleanField(default=False, editable=False)
    split_test = models.ForeignKey(
        "SplitTest",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="broadcasts",
        editable=False,
    )
    #: Its group in its split test: "A" to "E", or "Remainder".
    split_group = models.CharField(max_length=10, blank=True, editable=False)
    #: The share of the audience a split test's group gets: contacts whose
    #: bucket (0 to 9,999, ``broadcasts.audiences``) is in [from, to).
    bucket_from = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    bucket_to = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    #: Contacts are chosen in slices by id: the last id chosen so far.
    chosen_through = models.BigIntegerField(default=0, editable=False)
    #: Every recipient chosen (the last slice came back short).
    chosen_all = models.BooleanField(default=False, editable=False)
    recipients = models.PositiveIntegerField(default=0, editable=False)
    #: The worker choosing recipients, and until when its claim holds.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claim_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: Why it stopped without staff cancelling it (its audience's conditions
    #: no longer work), in words, for the page that shows it.
    error = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BroadcastStatus.values), name="broadcast_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="Draft") | Q(status="Cancelled") | Q(send_at__isnull=False),
                name="broadcast_scheduled_has_time",
            ),
        ]
        indexes = [
            # What the sweep starts or goes on with: a handful of rows.
            models.Index(
                fields=["send_at"],
                name="broadcast_due",
                condition=Q(status__in=["Scheduled", "Sending"]),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SplitTestMetric(models.TextChoices):
    OPENS = "Opens"
    CLICKS = "Clicks"


class SplitTestStatus(models.TextChoices):
    DRAFT = "Draft"
    SCHEDULED = "Scheduled"
    TESTING = "Testing"  # its groups sent; waiting to judge them
    SENDING_WINNER = "Sending winner"  # the remainder's broadcast started
    FINISHED = "Finished"
    CANCELLED = "Cancelled"


class SplitTest(models.Model):
    """Two to five versions of a broadcast, each sent to an equal part of a
    test share of the audience; once ``decide_after`` has passed, the version
    whose emails were opened (or clicked) by the larger share of their
    contacts is sent to the rest, chosen automatically."""

    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="split_tests")
    name = models.CharField(max_length=200)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="split_tests"
    )
    criteria = models.JSONField(default=dict, blank=True)
    saved_audience = models.ForeignKey(
        SavedAudience, on_delete=models.PROTECT, null=True, blank=True, related_name="split_tests"
    )
    #: Percent of the audience the groups share between them (1 to 100; 100:
    #: no remainder, the test only).
    test_share = models.PositiveSmallIntegerField(default=20)
    winner_metric = models.CharField(
        max_length=10, choices=SplitTestMetric.choices, default=SplitTestMetric.CLICKS
    )
    decide_after = models.DurationField(
        help_text="How long after the groups are sent to judge them."
    )
    send_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=SplitTestStatus.choices, default=SplitTestStatus.DRAFT
    )
    decide_at = models.DateTimeField(null=True, blank=True, editable=False)
    winner = models.ForeignKey(
        Broadcast,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SplitTestStatus.values), name="split_test_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(test_share__gte=1, test_share__lte=100),
                name="split_test_share_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SavedMessage(models.Model):
    """A message kept to be sent as a broadcast later, as often as wanted
    (Listrak's ``SavedMessage``): sending copies its message into a new
    broadcast, so editing it afterwards changes no email sent."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="saved_messages")
    name = models.CharField(max_length=200)
    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="saved_as")
    preheader = models.CharField(max_length=500, blank=True)
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="saved_messages"
    )
    external_campaign_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    modified_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class TransactionalMessage(models.Model):
    """A template a shop's backend sends one email of at a time through the
    API (an order confirmation, a password reset): to any address, subscribed
    or not, but never a banned or suppressed one."""

    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="transactional_messages")
    name = models.CharField(max_length=200)
    message = models.OneToOneField(
        Message, on_delete=models.PROTECT, related_name="transactional_as"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    external_campaign_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class TransactionalSend(models.Model):
    """One send of a transactional message to one address: the source of its
    email's ``Delivery``, with the merge values the request gave."""

    transactional_message = models.ForeignKey(
        TransactionalMessage, on_delete=models.CASCADE, related_name="sends"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    #: ``{profile field key: value}`` given with the request: the email shows
    #: these instead of the contact's own values.
    values = models.JSONField(default=dict, blank=True)
    #: What makes a retried request the same one (sha-256 of the client, the
    #: ``Idempotency-Key`` header or the body: ``broadcasts.transactional``);
    #: emptied once a body's retry window has passed, so the next one sends.
    request_key = models.CharField(max_length=64, blank=True)
    #: Listrak's ``resendKey``: names this send to send it again.
    resend_key = models.CharField(max_length=32, unique=True)
    #: The send this one resends (to its address, or forwarded).
    resend_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resends"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transactional_message", "request_key"],
                condition=~Q(request_key=""),
                name="transactional_send_once_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transactional_message} to {self.contact}"
