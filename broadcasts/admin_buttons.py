"""The broadcast page's buttons and the views its script asks: Unschedule
and Cancel (each needing the permission to change broadcasts, refused in
words by the services when it is too late), the progress box refreshed
while it sends (the permission to view them), and the count of an
audience (``admin_views.audience_count``)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse

from broadcasts.admin_display import count
from broadcasts.admin_progress import progress
from broadcasts.admin_views import audience_count, back_to, post_only, refused
from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import cancel_broadcast, unschedule_broadcast


class BroadcastButtons(admin.ModelAdmin):
    """The broadcast admin's buttons and JSON views."""

    def may_send(self, request: HttpRequest) -> bool:
        """Sending, unscheduling and cancelling: the permission to change broadcasts."""
        return super().has_change_permission(request)

    def button_urls(self) -> list[URLPattern]:
        def view(function):
            return self.admin_site.admin_view(function)

        mine = [
            # Before the admin's own: "audience-count/…" is not a broadcast's id.
            path(
                "audience-count/<int:list_id>/",
                view(audience_count),
                name="broadcasts_broadcast_audience_count",
            ),
            path(
                "<int:object_id>/progress/",
                view(self.progress_view),
                name="broadcasts_broadcast_progress",
            ),
            path(
                "<int:object_id>/unschedule/",
                view(self.unschedule_view),
                name="broadcasts_broadcast_unschedule",
            ),
            path(
                "<int:object_id>/cancel/",
                view(self.cancel_view),
                name="broadcasts_broadcast_cancel",
            ),
        ]
        return mine

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The progress box, as the page refreshes it while the broadcast sends."""
        broadcast = get_object_or_404(Broadcast.objects.select_related("list"), pk=object_id)
        if not self.has_view_permission(request, broadcast):
            raise PermissionDenied("Following a broadcast needs the permission to view broadcasts.")
        shown = progress(broadcast)
        html = render_to_string(
            "admin/broadcasts/broadcast/progress.html", {"progress": shown}, request
        )
        return JsonResponse(
            {"status": broadcast.status, "html": html, "refreshSeconds": shown.refresh_seconds}
        )

    def unschedule_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        broadcast = self._for_button(request, object_id, "Unscheduling")
        if isinstance(broadcast, HttpResponse):
            return broadcast
        try:
            unschedule_broadcast(broadcast=broadcast)
        except ValidationError as error:
            refused(request, error)
        else:
            messages.success(
                request, f"“{broadcast}” is a draft again: it is not sent unless you send it."
            )
        return back_to(self, broadcast.pk)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        broadcast = self._for_button(request, object_id, "Cancelling")
        if isinstance(broadcast, HttpResponse):
            return broadcast
        started = broadcast.started_at is not None
        try:
            stopped = cancel_broadcast(broadcast=broadcast)
        except ValidationError as error:
            refused(request, error)
        else:
            if started:
                messages.success(
                    request,
                    f"Cancelled “{broadcast}”: {count(stopped, 'email')} still waiting will not "
                    "be sent (those already with the mail server may still go).",
                )
            else:
                messages.success(request, f"Cancelled “{broadcast}”: nothing was sent.")
        return back_to(self, broadcast.pk)

    def _for_button(
        self, request: HttpRequest, object_id: str, doing: str
    ) -> Broadcast | HttpResponse:
        """The broadcast a button was pressed for, once the request may press it."""
        wrong = post_only(request)
        if wrong is not None:
            return wrong
        broadcast = get_object_or_404(Broadcast.objects.select_related("list"), pk=object_id)
        if not self.may_send(request):
            raise PermissionDenied(
                f"{doing} a broadcast needs the permission to change broadcasts."
            )
        if broadcast.split_test_id is not None:
            messages.error(
                request,
                f"“{broadcast}” belongs to the split test “{broadcast.split_test}”: "
                "cancel the split test instead.",
            )
            return back_to(self, broadcast.pk)
        return broadcast


def status_buttons(broadcast: Broadcast) -> list[tuple[str, str, str, str]]:
    """``(name, label, title, url)`` of the buttons its page offers now."""
    buttons = []
    if broadcast.status == BroadcastStatus.SCHEDULED:
        buttons.append(
            (
                "unschedule",
                "Unschedule",
                "Back to draft: it is not sent unless you send it again",
                reverse("admin:broadcasts_broadcast_unschedule", args=[broadcast.pk]),
            )
        )
    if broadcast.status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
        title = (
            "Stop it: the emails still waiting are not sent"
            if broadcast.status == BroadcastStatus.SENDING
            else "Cancel it: nothing is sent"
        )
        buttons.append(
            (
                "cancel",
                "Cancel broadcast",
                title,
                reverse("admin:broadcasts_broadcast_cancel", args=[broadcast.pk]),
            )
        )
    return buttons
