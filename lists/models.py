"""Lists, their profile fields ("segmentation fields") and external events."""

from __future__ import annotations

import functools
import zoneinfo
from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA names a list's time zone may be: the zones the time zone
    database lists, not every file ``ZoneInfo`` would open (``posix/…``,
    ``right/…``). The API describes them as an enum, so they must match."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if not isinstance(value, str) or value not in time_zone_names():
        raise ValidationError(
            "%(value)s is not a time zone; use an IANA name such as America/New_York.",
            params={"value": value},
            code="invalid_time_zone",
        )


def default_time_zone() -> str:
    return settings.TIME_ZONE


class BounceHandling(models.TextChoices):
    NONE = "None"
    STANDARD = "Standard"
    AGGRESSIVE = "Aggressive"


class Folder(models.Model):
    """A folder of lists (Listrak's ``Folder``): lists are grouped in them
    for staff to find; a list is in at most one."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class List(models.Model):
    name = models.CharField(max_length=200)
    folder = models.ForeignKey(
        Folder, on_delete=models.SET_NULL, null=True, blank=True, related_name="lists"
    )
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    bounce_handling = models.CharField(
        max_length=20, choices=BounceHandling.choices, default=BounceHandling.STANDARD
    )
    bounce_unsubscribe_count = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Bounces allowed before the contact is unsubscribed.",
    )
    double_opt_in = models.BooleanField(default=False)
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="Decides calendar dates for this list (waits, date actions).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(bounce_handling__in=BounceHandling.values),
                name="list_bounce_handling_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(bounce_unsubscribe_count__gte=1),
                name="list_bounce_unsubscribe_count_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class ProfileFieldGroup(models.Model):
    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="field_groups")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "list", Lower("name"), name="profile_field_group_name_unique_per_list"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DataType(models.TextChoices):
    TEXT = "Text"
    NUMERIC = "Numeric"
    RADIO_BUTTON = "RadioButton", "Radio button"
    CHECK_BOX = "CheckBox", "Check box"
    COMMENT_AREA = "CommentArea", "Comment area"
    DATE = "Date"
    CONTENT_BLOCK = "ContentBlock", "Content block"


class ProfileField(models.Model):
    """A typed profile field. Contacts keep its value in ``Contact.profile``
    under ``str(field.id)``, in the canonical form of ``lists.field_types``."""

    # Denormalised from ``group`` so that names are unique per list (imports map
    # columns by name) and a list's fields are one indexed lookup.
    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="profile_fields")
    group = models.ForeignKey(ProfileFieldGroup, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=100)
    data_type = models.CharField(max_length=20, choices=DataType.choices, default=DataType.TEXT)
    max_length = models.PositiveIntegerField(
        default=255, validators=[MinValueValidator(1), MaxValueValidator(4000)]
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "list", Lower("name"), name="profile_field_name_unique_per_list"
            ),
            models.CheckConstraint(
                condition=models.Q(data_type__in=DataType.values), name="profile_field_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(max_length__gte=1), name="profile_field_max_length_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.group_id and not self.list_id:
            self.list_id = self.group.list_id
        if self.group_id and self.group.list_id != self.list_id:
            raise ValidationError({"group": "The group belongs to another list."})
        super().save(*args, **kwargs)

    @property
    def key(self) -> str:
        """The key of this field's value in ``Contact.profile``."""
        return str(self.pk)

    def clean(self) -> None:
        if self.group_id and self.list_id and self.group.list_id != self.list_id:
            raise ValidationError({"group": "The group belongs to another list."})


class EventGroup(models.Model):
    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="event_groups")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("list", Lower("name"), name="event_group_name_unique_per_list"),
        ]

    def __str__(self) -> str:
        return self.name


class EventStatus(models.TextChoices):
    ACTIVE = "Active"
    BLOCKED = "Blocked"


class Event(models.Model):
    """An external event of a list (cart abandoned, purchase, …). Fired through
    the API, an import column or a Conductor action; a blocked one does nothing."""

    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="events")
    group = models.ForeignKey(
        EventGroup, on_delete=models.PROTECT, related_name="events", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.ACTIVE
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("list", Lower("name"), name="event_name_unique_per_list"),
            models.CheckConstraint(
                condition=models.Q(status__in=EventStatus.values), name="event_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == EventStatus.ACTIVE

    def clean(self) -> None:
        if (
            self.group_id
            and self.list_id
            and cast(EventGroup, self.group).list_id != self.list_id  # group_id is set
        ):
            raise ValidationError({"group": "The event group belongs to another list."})
