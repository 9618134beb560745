"""The conversation page is the workflow editor: it edits the working
version (threads, steps, triggers), draws it, publishes it, and shows the
published version with its per-step counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from conductor.admin.conversation_status import StatusAdmin, status_buttons
from conductor.admin.counts import step_counts
from conductor.diagram import step_label, thread_step_rows, version_diagram
from conductor.forms import ConversationAddForm, TriggerForm
from conductor.models import (
    INSIDE,
    Conversation,
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    Step,
    Trigger,
    Version,
)
from conductor.reports import Summary, message_summaries
from conductor.steps.registry import all_units
from conductor.versions import create_conversation, publish, published_version, working_version
from emails.models import Message
from lists.models import Event

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


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


def held_enrollments_url(step: Step) -> str:
    return (
        reverse("admin:conductor_enrollment_changelist")
        + f"?step__id__exact={step.pk}&state__exact={EnrollmentState.HELD}"
    )


def add_step_links(thread_id: int) -> SafeString:
    url = reverse("admin:conductor_step_add")
    return format_html_join(
        " ",
        '<a class="button add-step" href="{}?thread={}&kind={}">+ {}</a>',
        ((url, thread_id, unit.kind, unit.label) for unit in all_units()),
    )


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
    readonly_fields = [
        "list",
        "status_meaning",
        "working_threads",
        "working_diagram",
        "published_diagram",
        "published_step_counts",
        "message_report",
    ]

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
        return [
            (None, {"fields": ["name", "list", "status_meaning"]}),
            (
                "Working version (edited here; publish to let contacts in)",
                {"fields": ["working_threads", "working_diagram"]},
            ),
            ("Published version", {"fields": ["published_diagram", "published_step_counts"]}),
            ("Report", {"fields": ["message_report"]}),
        ]

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
        return [publish_url, *self.status_urls(), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversation = self.get_object(request, object_id)
        buttons = status_buttons(conversation) if conversation is not None else []
        extra_context = {**(extra_context or {}), "status_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

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
        return HttpResponseRedirect(
            reverse("admin:conductor_conversation_change", args=[object_id])
        )

    # --- The editor's sections ----------------------------------------------

    @admin.display(description="Threads and steps")
    def working_threads(self, obj: Conversation) -> SafeString:
        version = working_version(obj)
        blocks = []
        for thread, steps in thread_step_rows(version):
            items = format_html_join(
                "",
                "<li><strong>{}</strong> {}</li>",
                (
                    (f"{step.get_kind_display()}{' ' + step.name if step.name else ''}:", summary)
                    for step, summary in steps
                ),
            )
            where = ""
            if thread.parent_step_id:
                assert thread.parent_step is not None  # its id is set
                event = thread.get_child_event_display()
                where = f" — child of {step_label(thread.parent_step)} on {event}"
            blocks.append(
                format_html(
                    '<div class="conductor-thread"><h4><a href="{}">{}</a>{}</h4><ol>{}</ol>'
                    '<p>{} <a href="{}">reorder / remove steps</a></p></div>',
                    reverse("admin:conductor_thread_change", args=[thread.pk]),
                    thread.name,
                    where,
                    items,
                    add_step_links(thread.pk),
                    reverse("admin:conductor_thread_change", args=[thread.pk]),
                )
            )
        child_url = reverse("admin:conductor_thread_add") + f"?version={version.pk}"
        return format_html(
            '<div class="conductor-threads">{}<p><a class="button" href="{}">+ Child thread '
            "(off a Wait step)</a></p><p>Version {}, not yet published.</p></div>",
            SafeString("".join(blocks)),
            child_url,
            version.number,
        )

    @admin.display(description="Diagram")
    def working_diagram(self, obj: Conversation) -> SafeString:
        return version_diagram(working_version(obj))

    @admin.display(description="Latest published")
    def published_diagram(self, obj: Conversation) -> SafeString:
        version = published_version(obj)
        if version is None:
            return SafeString("Not published yet.")
        return format_html(
            "<p>Version {}, published {} UTC (read-only).</p>{}",
            version.number,
            f"{version.published_at:%Y-%m-%d %H:%M}",
            version_diagram(version, counts=step_counts(obj), held_url=held_enrollments_url),
        )

    @admin.display(description="Contacts per step")
    def published_step_counts(self, obj: Conversation) -> SafeString:
        counts = step_counts(obj)
        steps = (
            Step.objects.filter(version__conversation=obj, version__published_at__isnull=False)
            .select_related("thread", "version")
            .order_by("-version__number", "thread__is_main", "thread_id", "position")
        )
        rows = []
        for step in steps:
            figures = counts.get(step.pk)
            waiting, held, passed = figures if figures else (0, 0, 0)
            held_cell = (
                format_html('<a href="{}">{}</a>', held_enrollments_url(step), held)
                if held
                else "0"
            )
            rows.append(
                format_html(
                    '<tr data-step="{}"><td>v{}</td><td>{}</td><td>{}</td><td class="waiting">{}'
                    '</td><td class="held">{}</td><td class="passed">{}</td></tr>',
                    step.pk,
                    step.version.number,
                    step_label(step),
                    step.get_kind_display(),
                    waiting,
                    held_cell,
                    passed,
                )
            )
        if not rows:
            return SafeString("Nothing published yet.")
        return format_html(
            '<table class="conductor-counts"><thead><tr><th>Version</th><th>Step</th><th>Kind</th>'
            "<th>Waiting</th><th>Held</th><th>Passed</th></tr></thead><tbody>{}</tbody></table>",
            SafeString("".join(rows)),
        )

    @admin.display(description="Per message")
    def message_report(self, obj: Conversation) -> SafeString:
        summaries = message_summaries(obj)
        if not summaries:
            return SafeString("No email sent yet.")
        names = dict(Message.objects.filter(pk__in=summaries).values_list("pk", "name"))
        total = Summary()
        rows = []
        for message_id, summary in sorted(summaries.items()):
            total.add(summary)
            rows.append(_report_row(names.get(message_id, f"Message {message_id}"), summary))
        rows.append(_report_row("All messages", total))
        headings = "".join(f"<th>{label}</th>" for label, _ in REPORT_COLUMNS)
        return format_html(
            '<table class="conductor-report"><thead><tr><th>Message</th>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            SafeString(headings),
            SafeString("".join(rows)),
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


REPORT_COLUMNS = [
    ("Sent", "sent"),
    ("Delivered", "delivered"),
    ("Opened", "opened"),
    ("Clicked", "clicked"),
    ("Bounced", "bounced"),
    ("Unsubscribed", "unsubscribed"),
    ("Converted", "converted"),
    ("Revenue", "revenue"),
    ("Average order", "average_order_value"),
]


def _report_row(name: str, summary: Summary) -> str:
    cells = format_html_join(
        "", '<td class="{}">{}</td>', ((key, getattr(summary, key)) for _, key in REPORT_COLUMNS)
    )
    return format_html("<tr><th>{}</th>{}</tr>", name, cells)
