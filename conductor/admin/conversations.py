"""The conversation page is the workflow editor, in the order one works:
its settings and status, its triggers, the working version's threads and
steps (``conversation_page``), one diagram, then the report. Publishing
checks the working version and freezes it for new contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from conductor.admin.conversation_page import (
    DIAGRAMS,
    NO_TRIGGER,
    add_step_links,
    diagram_section,
    threads_section,
)
from conductor.admin.conversation_status import StatusAdmin, status_buttons
from conductor.admin.criteria_count import criteria_count_urls
from conductor.forms import ConversationAddForm, TriggerForm
from conductor.models import (
    INSIDE,
    Conversation,
    ConversationStatus,
    Enrollment,
    Trigger,
    Version,
)
from conductor.report_charts import report_context
from conductor.trigger_warnings import variant_warnings
from conductor.versions import create_conversation, publish, published_version
from lists.models import Event

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

#: Kept importable from here: the thread page adds steps with the same buttons.
__all__ = ["ConversationAdmin", "add_step_links"]


class _Numbers(TypedDict):
    """What ``ConversationAdmin.get_queryset`` annotates a conversation with."""

    published_number: int | None
    inside: int


class TriggerInline(admin.TabularInline):
    model = Trigger
    form = TriggerForm
    extra = 0
    fields = ["kind", "event"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "event":
            # Only the events of the conversation's own list.
            object_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            kwargs["queryset"] = Event.objects.filter(list__conversations__pk=object_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Conversation)
class ConversationAdmin(StatusAdmin):
    list_display = ["name", "list", "status_in_list", "published_version_number", "contacts_inside"]
    list_filter = ["status", "list"]
    list_select_related = ["list"]
    search_fields = ["name"]
    change_form_template = "admin/conductor/conversation/change_form.html"
    actions = [
        "pause_conversations",
        "resume_conversations",
        "close_conversations",
        "reopen_conversations",
    ]
    readonly_fields = ["list", "status_meaning"]

    def get_queryset(self, request: HttpRequest):
        published = Version.objects.filter(conversation=OuterRef("pk"), published_at__isnull=False)
        inside = (
            Enrollment.objects.filter(INSIDE, conversation=OuterRef("pk"))
            .order_by()
            .values("conversation")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                published_number=Subquery(published.order_by("-number").values("number")[:1]),
                inside=Coalesce(Subquery(inside, output_field=IntegerField()), Value(0)),
            )
        )

    @admin.display(description="Published version", ordering="published_number")
    def published_version_number(self, obj: WithAnnotations[Conversation, _Numbers]) -> int | None:
        return obj.published_number

    @admin.display(description="Contacts inside", ordering="inside")
    def contacts_inside(self, obj: WithAnnotations[Conversation, _Numbers]) -> int:
        return obj.inside

    # --- Add: list and name, through the service ---------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ConversationAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["list", "name"]})]
        # The threads, the diagram and the report follow the triggers
        # (conversation_page, drawn by change_form.html).
        return [("Settings", {"fields": ["name", "list", "status_meaning"]})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj=None):
        return [TriggerInline] if obj is not None else []

    def save_model(self, request, obj: Conversation, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = create_conversation(email_list=obj.list, name=obj.name)
        obj.pk = created.pk
        obj.refresh_from_db()

    # --- Publish -------------------------------------------------------------

    def get_urls(self):
        publish_url = path(
            "<path:object_id>/publish/",
            self.admin_site.admin_view(self.publish_view),
            name="conductor_conversation_publish",
        )
        return [publish_url, *self.status_urls(), *criteria_count_urls(self), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversation = self.get_object(request, object_id)
        extra_context = {**(extra_context or {})}
        if conversation is not None:
            extra_context.update(self._page_sections(request, conversation))
        return super().change_view(request, object_id, form_url, extra_context)

    def _page_sections(self, request: HttpRequest, conversation: Conversation) -> dict:
        """What change_form.html shows after the settings and the triggers."""
        shown = request.GET.get("diagram", "working")
        if shown not in DIAGRAMS:
            messages.error(
                request, f"No diagram “{shown}”: ask for the working or the published one."
            )
            shown = "working"
        elif shown == "published" and published_version(conversation) is None:
            messages.info(request, "Nothing is published yet: this is the working version.")
        can_change = self.has_change_permission(request, conversation)
        return {
            "status_buttons": status_buttons(conversation),
            "no_trigger": NO_TRIGGER if not conversation.triggers.exists() else "",
            "trigger_warnings": variant_warnings(conversation),
            "conversation_threads": threads_section(conversation, can_change=can_change),
            "conversation_diagram": diagram_section(conversation, shown),
            # The report (report.html, included by change_form.html).
            "report": report_context(conversation),
        }

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        conversation = get_object_or_404(Conversation, pk=object_id)
        if not self.has_change_permission(request, conversation):
            raise PermissionDenied("Publishing needs the permission to change conversations.")
        try:
            version = publish(conversation)
        except ValidationError as error:
            for problem in error.messages:
                messages.error(request, problem)
        else:
            messages.success(request, _published_message(conversation, version.number))
            if not conversation.triggers.exists():  # publishable, but nobody would enter
                messages.warning(request, NO_TRIGGER)
        return HttpResponseRedirect(
            reverse("admin:conductor_conversation_change", args=[object_id])
        )


def _published_message(conversation: Conversation, number: int) -> str:
    """What publishing did; a paused or closed conversation keeps its status."""
    done = f"Published version {number}."
    if conversation.status == ConversationStatus.PAUSED:
        return (
            f"{done} The conversation stays paused: no one enters or moves until you resume "
            f"it; then new contacts enter version {number}, and contacts already inside keep "
            "their version."
        )
    if conversation.status == ConversationStatus.CLOSED:
        return (
            f"{done} The conversation stays closed: no new contact enters unless you reopen "
            f"it; then they enter version {number}."
        )
    return f"{done} New contacts enter it; contacts already inside keep their version."
