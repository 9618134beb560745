"""Enrollments: contacts inside conversations, read-only, with held ones
resumable."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from conductor.engine.holds import resume_held
from conductor.models import Enrollment


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "contact",
        "conversation",
        "version_number",
        "thread",
        "step",
        "state",
        "due_at",
        "held_reason",
        "ignored_triggers",
    ]
    list_filter = [
        "state",
        ("conversation", admin.RelatedOnlyFieldListFilter),
        ("step", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["contact", "conversation", "version", "thread", "step__thread"]
    search_fields = ["contact__email"]
    show_full_result_count = False
    actions = ["resume_held_enrollments"]

    @admin.display(description="Version", ordering="version__number")
    def version_number(self, obj: Enrollment) -> int:
        return obj.version.number

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_resume_permission(self, request: HttpRequest) -> bool:
        # Enrollments are never edited here; resuming one is its own right.
        return request.user.has_perm("conductor.change_enrollment")

    @admin.action(description="Resume held enrollments (Active, due now)", permissions=["resume"])
    def resume_held_enrollments(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        resumed = resume_held(queryset)
        self.message_user(request, f"Resumed {resumed} held enrollments.", messages.SUCCESS)
