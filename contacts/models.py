"""Contacts, their activity, and the addresses that may not be subscribed."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from lists.models import List


def new_email_key() -> str:
    """An opaque, unguessable key: 48 bits of time, then 80 random bits.

    The time prefix makes new keys land at the right edge of their unique
    index, so a million-row import appends to it instead of touching a random
    page per row.
    """
    return f"{time.time_ns() // 1000 & 0xFFFFFFFFFFFF:012x}{secrets.token_hex(10)}"


def universal_email_key(email: str) -> str:
    """SHA-256 of the normalised address, the same on every list. Derived,
    never stored: nothing looks a contact up by it."""
    return hashlib.sha256(email.encode()).hexdigest()


class SubscriptionState(models.TextChoices):
    SUBSCRIBED = "Subscribed"
    UNSUBSCRIBED = "Unsubscribed"
    PENDING = "Pending", "Pending (double opt-in)"
    #: On the list only to receive transactional email (an order confirmation):
    #: never a subscriber, so never sent marketing, and to every subscription
    #: (a signup, the API, an import) a new address (``contacts.services``).
    NEVER_SUBSCRIBED = "NeverSubscribed", "Never subscribed (transactional email only)"


class SubscribeMethod:
    """Known subscribe methods. The field is an open set; these are the ones
    the platform itself writes."""

    ADMIN = "Admin"
    API = "API"
    IMPORT = "List Import"
    ADDRESS_CHANGE = "Address Change"
    DOUBLE_OPT_IN = "Double Opt-In"
    SUBSCRIPTION_POINT = "Subscription Point"


class UnsubscribeMethod:
    """Known unsubscribe methods (an open set, as in Listrak)."""

    UNSUBSCRIBE_LINK = "Unsubscribe Link"
    ONE_CLICK = "One-Click"
    PREFERENCE_CHANGE = "Preference Change"
    SPAM_COMPLAINT = "Spam Complaint"
    HARD_BOUNCE = "Hard Bounce"
    BOUNCE_LIMIT = "Bounce Limit"
    INVALID_ADDRESS = "Invalid Address"
    IMPORT = "List Import"
    ADMIN = "Admin"
    API = "API"
    BAN = "Ban"
    ADDRESS_CHANGE = "Address Change"


class Contact(models.Model):
    # Indexed by the (list, email) unique constraint; a separate index would only slow imports.
    list = models.ForeignKey(
        List, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    email = models.CharField("email address", max_length=254, help_text="Stored in lower case.")
    email_key = models.CharField(max_length=32, unique=True, default=new_email_key, editable=False)
    external_contact_id = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        "subscription state",
        max_length=20,
        choices=SubscriptionState.choices,
        default=SubscriptionState.SUBSCRIBED,
    )
    subscribed_at = models.DateTimeField(
        "original subscribe date", null=True, blank=True, help_text="Empty until first subscribed."
    )
    resubscribed_at = models.DateTimeField("resubscribe date", null=True, blank=True)
    subscribe_method = models.CharField(max_length=50, blank=True)
    unsubscribed_at = models.DateTimeField("unsubscribe date", null=True, blank=True)
    unsubscribe_method = models.CharField(max_length=50, blank=True)
    profile = models.JSONField(
        default=dict, blank=True, help_text="Profile values by field id (see lists.field_types)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = [
            "list_id",
            "email",
        ]  # the unique index order; "list" would join and sort by name
        constraints = [
            models.UniqueConstraint(
                fields=["list", "email"], name="contact_one_per_list_and_address"
            ),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="contact_email_normalised"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=SubscriptionState.values), name="contact_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state=SubscriptionState.SUBSCRIBED)
                | models.Q(subscribed_at__isnull=False),
                name="contact_subscribed_has_subscribe_date",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=SubscriptionState.UNSUBSCRIBED)
                | models.Q(unsubscribed_at__isnull=False),
                name="contact_unsubscribed_has_unsubscribe_date",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=SubscriptionState.NEVER_SUBSCRIBED)
                | models.Q(subscribed_at__isnull=True, unsubscribed_at__isnull=True),
                name="contact_never_subscribed_has_no_dates",
            ),
        ]
        indexes = [
            models.Index(
                fields=["list", "state", "subscribed_at"], name="contact_list_state_subscribed"
            ),
            models.Index(
                fields=["list", "external_contact_id"],
                name="contact_list_external_id",
                condition=~models.Q(external_contact_id=""),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def universal_email_key(self) -> str:
        return universal_email_key(self.email)

    @property
    def is_subscribed(self) -> bool:
        return self.state == SubscriptionState.SUBSCRIBED


class Ban(models.Model):
    """An address that may never be subscribed to a list. Banning unsubscribes
    the contact; lifting a ban does not resubscribe it."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="bans")
    email = models.CharField("email address", max_length=254)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["list", "email"], name="ban_one_per_list_and_address"),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="ban_email_normalised"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} banned from {self.list}"


class Suppression(models.Model):
    """An address suppressed on every list: it cannot be subscribed and is
    never sent to."""

    email = models.CharField("email address", max_length=254, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="suppression_email_normalised"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} suppressed"


class ActivityKind(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed (first time)"
    RESUBSCRIBED = "resubscribed", "Resubscribed"
    PENDING = "pending", "Pending double opt-in"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    PROFILE_UPDATED = "profile_updated", "Profile updated"
    ADDRESS_CHANGED = "address_changed", "Address changed"
    EVENT_FIRED = "event_fired", "External event"
    BANNED = "banned", "Banned"
    UNBANNED = "unbanned", "Ban lifted"
    SUPPRESSED = "suppressed", "Suppressed"
    UNSUPPRESSED = "unsuppressed", "Suppression lifted"
    EMAIL_SENT = "email_sent", "Email sent"
    EMAIL_OPENED = "email_opened", "Email opened"
    EMAIL_CLICKED = "email_clicked", "Email link clicked"
    EMAIL_BOUNCED = "email_bounced", "Email bounced"
    EMAIL_SPAM = "email_spam", "Email marked as spam"
    EMAIL_CONVERTED = "email_converted", "Email converted"


class Activity(models.Model):
    """One thing that happened to a contact. Written only through
    ``contacts.hooks.record_activities``, which lets other apps react in the
    same transaction."""

    # An append-only log written a million rows at a time by imports: no
    # database-level foreign keys (each costs a trigger per inserted row), and
    # no separate indexes (each key leads a composite index below). Deleting a
    # contact or list still deletes its activity, through Django's cascade.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,
        db_constraint=False,
    )
    list = models.ForeignKey(
        List, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    email = models.CharField("email address", max_length=254, help_text="The address at the time.")
    kind = models.CharField(max_length=30, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="activity_contact_recent"),
            models.Index(fields=["list", "kind", "occurred_at"], name="activity_list_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.email}"


class OptInStatus(models.TextChoices):
    WAITING = "Waiting"
    SENDING = "Sending"
    SENT = "Sent"
    SKIPPED = "Skipped"


#: Requests whose email has not gone out yet (the sweep's hot query).
UNSENT = models.Q(status__in=[OptInStatus.WAITING, OptInStatus.SENDING])


class OptInRequest(models.Model):
    """One double opt-in confirmation email to send to a pending contact.

    Written with the contact's ``Pending`` state (``contacts.optin``), so a
    request exists exactly when the change that needs it committed; a worker
    claims it with a compare-and-swap on ``status``, under a lease.
    """

    #: The request's own key: the task argument and the email's Message-ID.
    key = models.CharField(max_length=32, unique=True, default=new_email_key, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="opt_in_requests")
    status = models.CharField(
        max_length=10, choices=OptInStatus.choices, default=OptInStatus.WAITING
    )
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was skipped.")
    last_error = models.TextField(blank=True, help_text="The last failed attempt's error.")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: While sending, another worker may take the request over only after this.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Which claim of the request is sending it.
    claim_token = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "opt-in request"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OptInStatus.values), name="optin_status_valid"
            ),
            # A second request while one is still unsent would mail the person twice.
            models.UniqueConstraint(
                fields=["contact"], condition=UNSENT, name="optin_one_unsent_per_contact"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=UNSENT, name="optin_unsent"),
        ]

    def __str__(self) -> str:
        return f"opt-in request {self.key} ({self.get_status_display()})"


from contacts.imports.models import (  # noqa: E402  (models of this app, in their own module)
    ImportRowResult,
    ListImport,
)

__all__ = [
    "Activity",
    "ActivityKind",
    "Ban",
    "Contact",
    "ImportRowResult",
    "ListImport",
    "OptInRequest",
    "OptInStatus",
    "SubscribeMethod",
    "SubscriptionState",
    "Suppression",
    "UnsubscribeMethod",
]
