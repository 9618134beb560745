"""An import of a CSV file into a list, and its per-row results."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from lists.models import List


class ImportType(models.TextChoices):
    ADD_SUBSCRIBERS = "AddSubscribers"
    ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA = "AddSubscribersAndSegmentationData"
    UPDATE_SUBSCRIBERS = "UpdateSubscribers"
    REMOVE_SUBSCRIBERS = "RemoveSubscribers"


class SegmentationImportType(models.TextChoices):
    UPDATE = "Update"
    APPEND = "Append"
    OVERWRITE = "Overwrite"


class ImportStatus(models.TextChoices):
    DATA_UPLOADED = "DataUploaded"
    PROCESSING_DATA = "ProcessingData"
    PROCESSING_COMPLETED = "ProcessingCompleted"
    PROCESSING_FAILED = "ProcessingFailed"


class RowResult(models.TextChoices):
    """Listrak's per-row import results."""

    INVALID = "Invalid"
    SUBSCRIBED = "Subscribed"
    UNSUBSCRIBED = "UnSubscribed"
    ALREADY_SUBSCRIBED = "AlreadySubscribed"
    ALREADY_UNSUBSCRIBED = "AlreadyUnSubscribed"
    PREVIOUSLY_UNSUBSCRIBED = "PreviouslyUnsubscribed"
    SUPPRESSED = "Suppressed"
    BANNED = "Banned"
    SKIPPED = "Skipped"


#: The summary count of each result, by Listrak's ListImportSummary names.
SUMMARY_COUNTS = {
    RowResult.SUBSCRIBED: "subscribed_count",
    RowResult.ALREADY_SUBSCRIBED: "already_subscribed_count",
    RowResult.PREVIOUSLY_UNSUBSCRIBED: "previously_unsubscribed_count",
    RowResult.UNSUBSCRIBED: "unsubscribed_count",
    RowResult.ALREADY_UNSUBSCRIBED: "already_unsubscribed_count",
    RowResult.INVALID: "invalid_email_count",
    RowResult.BANNED: "banned_count",
    RowResult.SUPPRESSED: "suppressed_count",
    RowResult.SKIPPED: "skipped_count",
}


class ListImport(models.Model):
    list = models.ForeignKey(List, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    file_name = models.CharField(max_length=255)
    import_type = models.CharField(
        max_length=40,
        choices=ImportType.choices,
        default=ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA,
    )
    segmentation_type = models.CharField(
        "segmentation import type",
        max_length=10,
        choices=SegmentationImportType.choices,
        default=SegmentationImportType.UPDATE,
    )
    delimiter = models.CharField(max_length=1, default=",")
    has_header = models.BooleanField("first line holds column names", default=True)
    #: ``{column: profile field id}``; empty maps columns by header name.
    field_map = models.JSONField(default=dict, blank=True)
    #: ``{column: event id}``: a non-blank cell fires that event for the row's contact.
    event_map = models.JSONField(default=dict, blank=True)
    #: The column holding the address (header name or 0-based index); found by name when blank.
    email_column = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.DATA_UPLOADED
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: While processing, another worker may take the import over only after this.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: Which claim of the import is processing it (see contacts.imports.run).
    claim_token = models.CharField(max_length=32, blank=True, editable=False)

    processed_count = models.PositiveIntegerField(default=0)
    subscribed_count = models.PositiveIntegerField(default=0)
    already_subscribed_count = models.PositiveIntegerField(default=0)
    previously_unsubscribed_count = models.PositiveIntegerField(default=0)
    unsubscribed_count = models.PositiveIntegerField(default=0)
    already_unsubscribed_count = models.PositiveIntegerField(default=0)
    invalid_email_count = models.PositiveIntegerField(default=0)
    banned_count = models.PositiveIntegerField(default=0)
    suppressed_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    invalid_value_count = models.PositiveIntegerField(
        default=0, help_text="Values refused by their field's type (the row itself was imported)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values), name="import_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(import_type__in=ImportType.values), name="import_type_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"],
                name="import_in_progress",
                condition=models.Q(status__in=["DataUploaded", "ProcessingData"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} → {self.list}"

    def summary(self) -> dict[str, int]:
        """The counts under Listrak's ListImportSummary names."""
        return {
            "processedCount": self.processed_count,
            "subscribedCount": self.subscribed_count,
            "alreadySubscribedCount": self.already_subscribed_count,
            "previouslyUnsubscribedCount": self.previously_unsubscribed_count,
            "unsubscribedCount": self.unsubscribed_count,
            "alreadyUnsubscribedCount": self.already_unsubscribed_count,
            "invalidEmailCount": self.invalid_email_count,
            "bannedCount": self.banned_count,
            "suppressedCount": self.suppressed_count,
            "skippedCount": self.skipped_count,
        }


class ImportRowResult(models.Model):
    """What happened to one row of an import file (row 1 is the first data row)."""

    pk = models.CompositePrimaryKey("list_import_id", "row_number")
    # Indexed by the primary key, which it leads. Written a million rows at a
    # time, all of one import: no database-level foreign key, whose trigger
    # would check that one import again for every row at commit. Deleting an
    # import still deletes its rows, through Django's cascade.
    list_import = models.ForeignKey(
        ListImport,
        on_delete=models.CASCADE,
        related_name="rows",
        db_index=False,
        db_constraint=False,
    )
    row_number = models.PositiveIntegerField()
    email = models.CharField(max_length=254, blank=True, help_text="As given in the file.")
    result = models.CharField(max_length=25, choices=RowResult.choices)
    reason = models.TextField(
        blank=True, help_text="Why the row, or some of its values, were refused."
    )

    class Meta:
        ordering = ["list_import_id", "row_number"]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.result}"
