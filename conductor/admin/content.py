"""Messages (the emails Message steps send) and enrollments (contacts inside
conversations, read-only, with held ones resumable)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from conductor.engine.holds import resume_held
from conductor.models import Enrollment, Message
from conductor.tracking.render import build_test_email


class TestSendForm(forms.Form):
    email = forms.EmailField(label="Send a test to", max_length=254)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["name", "list", "subject", "from_email", "created_at"]
    list_filter = ["list"]
    list_select_related = ["list"]
    search_fields = ["name", "subject"]
    fieldsets = [
        (None, {"fields": ["list", "name", "subject"]}),
        ("Sender", {"fields": ["from_name", "from_email"]}),
        (
            "Bodies",
            {
                "fields": ["html_body", "text_body"],
                "description": "Django templates: profile values, the coupon and the trigger "
                "are merge fields.",
            },
        ),
    ]

    def get_urls(self):
        test_send = path(
            "<path:object_id>/test-send/",
            self.admin_site.admin_view(self.test_send_view),
            name="conductor_message_test_send",
        )
        return [test_send, *super().get_urls()]

    def test_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send the message to any address, now: links lead straight to their
        targets and nothing is tracked or recorded. It mails anyone, so it
        takes the change permission, not only the view one."""
        message = get_object_or_404(Message.objects.select_related("list"), pk=object_id)
        if not self.has_change_permission(request, message):
            raise PermissionDenied("Sending a test needs the permission to change messages.")
        form = TestSendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            address = form.cleaned_data["email"]
            try:
                build_test_email(message, address).send()
            except Exception as error:  # a template error, the mail server down
                form.add_error(None, f"Not sent: {error}")
            else:
                messages.success(request, f"Sent a test of “{message}” to {address}.")
                return HttpResponseRedirect(
                    reverse("admin:conductor_message_change", args=[message.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": message,
            "form": form,
            "title": f"Send a test of “{message}”",
        }
        return TemplateResponse(request, "admin/conductor/message/test_send.html", context)


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
