"""Subscription points, the fields they ask for, and the signups they take."""

from __future__ import annotations

import builtins
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property

from contacts.models import Contact, SubscribeMethod
from lists.models import Event, List, ProfileField


def new_key() -> str:
    """A point's public key: in its page's address and snippets, unguessable
    so that a point cannot be found by counting."""
    return secrets.token_urlsafe(12)


class PopupOpening(models.TextChoices):
    DELAY = "delay", "After a delay"
    EXIT = "exit", "When the visitor is about to leave (exit intent)"


class SubscriptionPoint(models.Model):
    """A named way into a list: a footer form, a pop-up, the checkout."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="subscription_points")
    name = models.CharField(
        max_length=100, help_text="Footer, Pop-up, Checkout… Unique within the list."
    )
    key = models.CharField(max_length=32, unique=True, default=new_key, editable=False)
    is_active = models.BooleanField(
        "taking signups",
        default=True,
        help_text="Untick to close the form: its page and pop-up then say it is closed.",
    )
    event = models.ForeignKey(
        Event,
        on_delete=models.PROTECT,
        related_name="subscription_points",
        null=True,
        blank=True,
        help_text=(
            "Fired for the contact on each signup, so a conversation's trigger and its "
            "message variants can tell this point apart. Left empty, an event named "
            "“Signup: <point name>” is created."
        ),
    )
    double_opt_in = models.BooleanField(
        "ask for confirmation",
        default=False,
        help_text=(
            "New addresses get the list's confirmation email and are subscribed when they "
            "click its link; the event fires then."
        ),
    )
    method = models.CharField(
        "subscribe method",
        max_length=100,
        default=SubscribeMethod.SUBSCRIPTION_POINT,
        help_text="Recorded as the contact's subscribe method.",
    )
    heading = models.CharField(max_length=200, default="Join our list")
    intro = models.TextField(blank=True, help_text="A line or two under the heading (plain text).")
    button_label = models.CharField(max_length=60, default="Subscribe")
    consent_text = models.CharField(
        "consent checkbox",
        max_length=300,
        blank=True,
        help_text=(
            "Shown beside a checkbox, such as “Yes, email me offers again”. Only when it is "
            "ticked is an address that once unsubscribed subscribed again. Empty: no "
            "checkbox, and unsubscribed addresses stay unsubscribed."
        ),
    )
    thank_you_text = models.TextField(
        default="Thank you! Please check your inbox.",
        help_text="Shown after every signup, whatever became of the address.",
    )
    redirect_url = models.URLField(
        "thank-you page",
        blank=True,
        help_text=(
            "Instead of the text, send the visitor to this page of the shop (hosted and "
            "embedded forms). Its origin must be one of the allowed origins."
        ),
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text=(
            "The shop's sites that may embed the pop-up and post to this point, one per "
            "line (https://www.example.com). Other sites get no cross-origin grant."
        ),
    )
    popup_opening = models.CharField(
        "pop-up opens",
        max_length=10,
        choices=PopupOpening.choices,
        default=PopupOpening.DELAY,
    )
    popup_delay_seconds = models.PositiveIntegerField(
        "pop-up delay (seconds)", default=5, validators=[MaxValueValidator(3600)]
    )
    signups_per_minute = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="At most this many posts a minute to this point, from everyone together.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["list__name", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                "list", Lower("name"), name="subscription_point_name_unique_per_list"
            ),
            models.CheckConstraint(
                condition=models.Q(popup_opening__in=PopupOpening.values),
                name="subscription_point_popup_opening_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def asked(self) -> builtins.list[PointField]:
        """The fields it asks for, in order, with their profile fields: read
        once per instance (a post builds its form from them more than once)."""
        return builtins.list(self.fields.select_related("field"))

    @property
    def origins(self) -> builtins.list[str]:  # "list" is the field, in here
        """The allowed origins, as saved (checked and normalised at save)."""
        return [line for line in self.allowed_origins.split() if line]


class PointField(models.Model):
    """A profile field a point asks for, in order."""

    point = models.ForeignKey(SubscriptionPoint, on_delete=models.CASCADE, related_name="fields")
    field = models.ForeignKey(ProfileField, on_delete=models.CASCADE, related_name="+")
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["point", "field"], name="point_field_once"),
        ]

    def __str__(self) -> str:
        return self.field.name


class SignupOutcome(models.TextChoices):
    SUBSCRIBED = "subscribed", "New subscriber"
    RESUBSCRIBED = "resubscribed", "Subscribed again (consent ticked)"
    PENDING = "pending", "Awaiting confirmation"
    ALREADY_SUBSCRIBED = "already", "Already subscribed"
    KEPT_UNSUBSCRIBED = "unsubscribed", "Kept unsubscribed (no consent)"
    REFUSED = "refused", "Refused: banned or suppressed"
    HONEYPOT = "honeypot", "Refused as a bot: filled the hidden field"
    TOO_FAST = "too_fast", "Refused as a bot: sent too fast"


#: Outcomes of people, as opposed to bots.
PEOPLE = [o for o in SignupOutcome if o not in (SignupOutcome.HONEYPOT, SignupOutcome.TOO_FAST)]


class Signup(models.Model):
    """One accepted post to a point, whatever became of the address, and the
    posts refused as bots. The same thank-you answers them all; this is where
    staff see the difference."""

    point = models.ForeignKey(SubscriptionPoint, on_delete=models.CASCADE, related_name="signups")
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # led by the indexes below
    )
    outcome = models.CharField(max_length=20, choices=SignupOutcome.choices)
    created_at = models.DateTimeField(default=timezone.now)
    #: The point's event is still to fire: the contact has yet to confirm.
    event_pending = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["point", "created_at"], name="signup_point_time"),
            models.Index(
                fields=["contact"],
                name="signup_event_pending",
                condition=models.Q(event_pending=True),
            ),
            models.Index(fields=["contact", "point"], name="signup_contact_point"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=SignupOutcome.values), name="signup_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.point} · {self.get_outcome_display()}"


class RateWindow(models.Model):
    """Posts counted in one fixed window of one rate limit (``signups.throttle``).
    In the database so that every web server counts together."""

    key = models.CharField(max_length=80)
    starts_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "starts_at"], name="rate_window_once"),
        ]
        indexes = [models.Index(fields=["starts_at"], name="rate_window_start")]

    def __str__(self) -> str:
        return f"{self.key} from {self.starts_at:%Y-%m-%d %H:%M}: {self.count}"
