"""What Conductor adds to other apps' admin pages: on a contact's page, the
conversations it is in and at which step; on a message's page, the published
versions sending it and the content each sends; on the deliveries list, a
filter by conversation."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from conductor.activity_words import trigger_words
from conductor.models import Conversation, Enrollment, EnrollmentState, Version
from conductor.steps.context import label
from contacts.models import Contact
from contacts.panels import ContactPanel, add_contact_panel
from core.panels import Panel
from emails.admin_views import add_delivery_filter, message_panels
from emails.models import Delivery, Message, MessageContent

#: The contact page shows this many of its latest enrollments, and links to the rest.
RECENT_ENROLLMENTS = 20


def contact_conversations(contact: Contact) -> SafeString:
    """Each conversation ``contact`` entered, latest first: how it came in,
    and where it is now (the step, when it moves on, why it is held and how
    to resume it), or when it left."""
    enrollments = list(
        Enrollment.objects.filter(contact=contact)
        .select_related("conversation", "version", "step__thread")
        .order_by("-entered_at", "-id")[:RECENT_ENROLLMENTS]
    )
    if not enrollments:
        return format_html("{}", "In no conversation.")
    body = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a> (version {})</td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:conductor_conversation_change", args=[e.conversation_id]),
                e.conversation.name,
                e.version.number,
                format_html(
                    "{} UTC (trigger: {})", f"{e.entered_at:%Y-%m-%d %H:%M}", trigger_words(e)
                ),
                _where_now(e),
            )
            for e in enrollments
        ),
    )
    return format_html(
        '<table class="contact-conversations"><thead><tr><th>Conversation</th>'
        "<th>Entered (trigger)</th><th>Where it is now</th></tr></thead><tbody>{}</tbody>"
        '</table><p><a href="{}">Every enrollment of this contact</a></p>',
        body,
        _enrollments_url(contact__id__exact=contact.pk),
    )


def _where_now(enrollment: Enrollment) -> SafeString:
    at = label(enrollment.step) if enrollment.step is not None else "the start"
    if enrollment.state == EnrollmentState.HELD:
        return format_html(
            'Held at {}: {} <a href="{}">Resume it from the held enrollments</a>',
            at,
            enrollment.held_reason or "no reason given.",
            _enrollments_url(contact__id__exact=enrollment.contact_id, state__exact="Held"),
        )
    if enrollment.state == EnrollmentState.SENDING:
        return format_html("At {}, waiting for its email to be sent", at)
    if enrollment.state == EnrollmentState.FINISHED:
        left = enrollment.finished_at
        return format_html("Left on {} UTC", f"{left:%Y-%m-%d %H:%M}" if left else "an unknown day")
    due = enrollment.due_at
    return format_html(
        "At {}; moves on at {} UTC", at, f"{due:%Y-%m-%d %H:%M}" if due else "an unknown time"
    )


def _enrollments_url(**lookups: str | int) -> str:
    return f"{reverse('admin:conductor_enrollment_changelist')}?{urlencode(lookups)}"


class ConversationFilter(admin.SimpleListFilter):
    """The emails of one conversation's Message steps."""

    title = "conversation"
    parameter_name = "conversation"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Conversation.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()  # not a conversation: nothing, rather than everything
        return queryset.filter(step_run__enrollment__conversation_id=int(value))


add_contact_panel(
    ContactPanel(
        title="Conversations", permission="conductor.view_enrollment", render=contact_conversations
    )
)
add_delivery_filter(ConversationFilter)


def published_versions(message: Message) -> SafeString:
    """Each published version sending ``message``: the content it sends, and
    whether that is still what the message says."""
    versions = (
        Version.objects.filter(
            published_at__isnull=False, message_contents__has_key=str(message.pk)
        )
        .select_related("conversation")
        .order_by("conversation__name", "-number")
    )
    frozen = MessageContent.objects.in_bulk([v.message_contents[str(message.pk)] for v in versions])
    if not frozen:
        return format_html(
            "{}",
            "No published version sends it yet: publishing a conversation freezes "
            "its messages' content for the contacts inside that version.",
        )
    rows = []
    for version in versions:
        content = frozen.get(version.message_contents[str(message.pk)])
        if content is None:
            continue
        changed = content.differs_from(message)
        rows.append(
            (
                reverse("admin:conductor_conversation_change", args=[version.conversation_id]),
                version.conversation.name,
                version.number,
                content.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                f"No: {', '.join(changed)} changed since" if changed else "Yes",
            )
        )
    body = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
        rows,
    )
    return format_html(
        '<table class="published-versions"><thead><tr><th>Conversation</th><th>Version</th>'
        "<th>Sends the content as of</th><th>Same as above?</th></tr></thead><tbody>{}</tbody>"
        "</table><p>Edits here reach working versions and tests; publish a conversation again "
        "to send them to the contacts who enter it.</p>",
        body,
    )


message_panels.add(
    Panel[Message](
        title="Published versions",
        permission="conductor.view_conversation",
        render=published_versions,
    )
)
