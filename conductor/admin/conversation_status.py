"""Pause, Resume, Close and Reopen on the conversation page (buttons) and
in the conversation list (actions), with the status and what it means. The
changes themselves are ``conductor.status``'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from conductor import status
from conductor.models import Conversation, ConversationStatus


@dataclass(frozen=True)
class StatusChange:
    label: str  # the button's
    hint: str  # the button's title: what it does
    doing: str  # "Pausing", for a refusal
    service: Callable[[Conversation], Conversation]
    #: The statuses it is offered from (the service refuses the others in words).
    offered_from: tuple[str, ...]
    done: str  # "{name}" is the conversation's


CHANGES: dict[str, StatusChange] = {
    "pause": StatusChange(
        "Pause",
        "No new contact enters and no contact inside moves until you resume it",
        "Pausing",
        status.pause,
        (ConversationStatus.PUBLISHED,),
        "Paused “{name}”: no new contact enters and no contact inside moves until you resume it.",
    ),
    "resume": StatusChange(
        "Resume",
        "Let new contacts in and move those inside again",
        "Resuming",
        status.resume,
        (ConversationStatus.PAUSED,),
        "Resumed “{name}”: new contacts enter again, and contacts inside whose time came while "
        "it was paused move now.",
    ),
    "close": StatusChange(
        "Close",
        "No new contact enters; contacts inside finish as usual",
        "Closing",
        status.close,
        (ConversationStatus.PUBLISHED, ConversationStatus.PAUSED),
        "Closed “{name}”: no new contact enters; contacts inside finish as usual.",
    ),
    "reopen": StatusChange(
        "Reopen",
        "Let new contacts in again",
        "Reopening",
        status.reopen,
        (ConversationStatus.CLOSED,),
        "Reopened “{name}”: new contacts enter again.",
    ),
}


def status_buttons(conversation: Conversation) -> list[tuple[str, str, str, str]]:
    """``(change, button label, title, url)`` of the changes offered on its page."""
    return [
        (
            name,
            change.label,
            change.hint,
            reverse("admin:conductor_conversation_status", args=[conversation.pk, name]),
        )
        for name, change in CHANGES.items()
        if conversation.status in change.offered_from
    ]


class StatusAdmin(admin.ModelAdmin):
    """The conversation admin's status buttons, actions and columns."""

    def status_urls(self) -> list:
        return [
            path(
                "<path:object_id>/status/<str:change>/",
                self.admin_site.admin_view(self.status_view),
                name="conductor_conversation_status",
            )
        ]

    def status_view(self, request: HttpRequest, object_id: str, change: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if change not in CHANGES:
            raise Http404(f"No status change “{change}”: pause, resume, close or reopen.")
        wanted = CHANGES[change]
        conversation = get_object_or_404(Conversation, pk=object_id)
        if not self.has_change_permission(request, conversation):
            raise PermissionDenied(
                f"{wanted.doing} a conversation needs the permission to change conversations."
            )
        self._apply(request, wanted, conversation)
        return HttpResponseRedirect(
            reverse("admin:conductor_conversation_change", args=[conversation.pk])
        )

    def _apply(
        self, request: HttpRequest, change: StatusChange, conversation: Conversation
    ) -> bool:
        try:
            change.service(conversation)
        except ValidationError as error:
            for problem in error.messages:
                self.message_user(request, problem, messages.ERROR)
            return False
        self.message_user(request, change.done.format(name=conversation.name), messages.SUCCESS)
        return True

    def _apply_each(self, request: HttpRequest, queryset: QuerySet, change: StatusChange) -> None:
        for conversation in queryset.order_by("name", "pk"):
            self._apply(request, change, conversation)

    @admin.action(description="Pause selected conversations", permissions=["change"])
    def pause_conversations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_each(request, queryset, CHANGES["pause"])

    @admin.action(description="Resume selected conversations", permissions=["change"])
    def resume_conversations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_each(request, queryset, CHANGES["resume"])

    @admin.action(description="Close selected conversations", permissions=["change"])
    def close_conversations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_each(request, queryset, CHANGES["close"])

    @admin.action(description="Reopen selected conversations", permissions=["change"])
    def reopen_conversations(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply_each(request, queryset, CHANGES["reopen"])

    @admin.display(description="Status", ordering="status")
    def status_in_list(self, obj: Conversation) -> SafeString:
        return format_html(
            '<span class="conversation-status" title="{}">{}</span>',
            status.MEANINGS[obj.status],
            obj.get_status_display(),
        )

    @admin.display(description="Status")
    def status_meaning(self, obj: Conversation) -> SafeString:
        return format_html(
            '<strong class="conversation-status">{}</strong> — {}',
            obj.get_status_display(),
            status.MEANINGS[obj.status],
        )
