"""The emails of Message steps, one row per contact and visit: what was
sent, skipped, is waiting, or is uncertain (the worker stopped, or the
connection dropped, while the mail server had it), with a resend for those."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from conductor.engine.delivery import resend_uncertain
from conductor.models import Delivery, DeliveryStatus


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["contact", "message", "status", "sent_at", "error"]
    list_filter = ["status", ("message", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["contact", "message"]
    search_fields = ["contact__email"]
    search_help_text = "An address, or its beginning."
    show_full_result_count = False  # millions of rows
    fields = ["contact", "message", "status", "created_at", "sent_at", "subject", "error"]
    readonly_fields = fields
    actions = ["resend_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Message steps write them

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False  # the record of what was sent stays

    @admin.action(
        description="Resend the selected uncertain emails (the contact may get them twice)",
        permissions=["change"],
    )
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        others = queryset.exclude(status=DeliveryStatus.UNCERTAIN).count()
        resent = resend_uncertain(queryset)
        self.message_user(request, f"{resent} uncertain emails queued to send again.")
        if others:
            self.message_user(
                request,
                f"{others} selected emails were not uncertain and were left as they are.",
                messages.WARNING,
            )
