"""Broadcasts in the admin, for marketers: write one (its message chosen or
written in a popup, its audience everyone, a saved audience or conditions
built with the filter builder, with how many it reaches now), send it now or
at a time in the list's time zone, unschedule or cancel it, watch it send
and read its report. Split tests are ``admin_split_tests``'.

Writes go through ``broadcasts.services``; once a broadcast's time has come
its settings only show as text. Every button and view checks its
permission: sending, unscheduling and cancelling need the permission to
change broadcasts; following one's progress, to view them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from broadcasts import admin_split_tests  # noqa: F401 - registers the split tests' admin
from broadcasts.admin_buttons import BroadcastButtons, status_buttons
from broadcasts.admin_display import short_when, when
from broadcasts.admin_filters import SplitTestGroupFilter
from broadcasts.admin_forms import SEND_AT, BroadcastForm, sending_asked
from broadcasts.admin_pages import (
    audience_words,
    list_words,
    narrowed,
    reach,
    sendable_warnings,
)
from broadcasts.admin_progress import (
    deliveries_of,
    is_due,
    meaning,
    page_figures,
    progress,
    report,
    watched,
)
from broadcasts.admin_views import asked_list, back_to, choose_list, refused
from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import (
    CHANGEABLE,
    create_broadcast,
    schedule_broadcast,
    update_broadcast,
)

SETTINGS = ["name", "message", "campaign"]
TRACKING = ("Tracking", {"fields": ["external_campaign_id", "google_analytics_campaign_name"]})


def editable(broadcast: Broadcast) -> bool:
    """Whether its settings may still change here: a draft, or scheduled for
    a time still to come, and not a split test's group (its test decides)."""
    return (
        broadcast.status in CHANGEABLE and not is_due(broadcast) and broadcast.split_test_id is None
    )


@admin.register(Broadcast)
class BroadcastAdmin(BroadcastButtons):
    form = BroadcastForm
    change_form_template = "admin/broadcasts/broadcast/change_form.html"
    list_display = [
        "name",
        "list",
        "status_in_list",
        "send_time",
        "recipients_in_list",
        "sent_in_list",
        "opens_and_clicks",
        "campaign",
    ]
    list_filter = ["status", "list", "campaign", SplitTestGroupFilter]
    list_select_related = ["list", "campaign"]
    search_fields = ["name"]
    list_per_page = 50

    class Media:
        css = {"all": ["broadcasts/broadcasts.css"]}

    # --- Permissions ---------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        if obj is not None and not editable(obj):
            return False  # started, due, cancelled or a split test's: shown as text
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Broadcast | None = None) -> bool:
        if obj is not None and (obj.started_at is not None or obj.split_test_id is not None):
            return False  # its emails name it; a split test's groups go with the test
        return super().has_delete_permission(request, obj)

    # --- The form ---------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Broadcast | None = None):
        if obj is not None and not self.has_change_permission(request, obj):
            first = ["list_shown", "name", "message_shown", "campaign"]
            if obj.split_test_id is not None:
                first.append("split_test_shown")
            if obj.started_at is None:
                first.append("status_shown")
            return [
                (None, {"fields": first}),
                ("Audience", {"fields": ["audience_shown"]}),
                TRACKING,
            ]
        return [
            (None, {"fields": ["list_shown", *SETTINGS]}),
            (
                "Audience",
                {
                    "fields": ["audience", "saved_audience", "criteria", "reach_now"],
                    "classes": ["broadcast-audience"],
                },
            ),
            (TRACKING[0], {**TRACKING[1], "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Broadcast | None = None):
        return ["list_shown", "reach_now"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and not self.has_change_permission(request, obj):
            kwargs["form"] = forms.ModelForm  # shown as text: nothing to clean
            return super().get_form(request, obj, change, **kwargs)
        form = super().get_form(request, obj, change, **kwargs)
        email_list = obj.list if obj is not None else asked_list(request)
        attrs = {"email_list": email_list, "request": request, "admin_site": self.admin_site}
        return type(form.__name__, (form,), attrs)

    @admin.display(description="List")
    def list_shown(self, obj: Broadcast) -> SafeString:
        return list_words(obj)

    @admin.display(description="Reaches")
    def reach_now(self, obj: Broadcast) -> SafeString:
        return reach(obj, what="broadcast")

    @admin.display(description="Message")
    def message_shown(self, obj: Broadcast) -> SafeString:
        message = obj.message
        return format_html(
            '<a href="{}">{}</a> <span class="quiet">(subject: {})</span>',
            reverse("admin:emails_message_change", args=[message.pk]),
            message.name,
            message.subject,
        )

    @admin.display(description="Audience")
    def audience_shown(self, obj: Broadcast) -> str:
        return audience_words(obj.list, criteria=obj.criteria, saved_audience=obj.saved_audience)

    @admin.display(description="Split test")
    def split_test_shown(self, obj: Broadcast) -> SafeString:
        group = (
            "the winner, to the rest"
            if obj.split_group == "Remainder"
            else f"group {obj.split_group}"
        )
        return format_html(
            '<a href="{}">{}</a> ({})',
            reverse("admin:broadcasts_splittest_change", args=[obj.split_test_id]),
            obj.split_test,
            group,
        )

    @admin.display(description="Status")
    def status_shown(self, obj: Broadcast) -> SafeString:
        return format_html(
            "<strong>{}</strong> — {}",
            obj.get_status_display(),
            meaning(obj),
        )

    # --- Adding, saving and sending -----------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied  # before saying anything of the lists
        asking = choose_list(self, request)
        if asking is not None:
            return asking
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and sending_asked(request.POST) and not self.may_send(request):
            raise PermissionDenied("Sending a broadcast needs the permission to change broadcasts.")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: Broadcast, form, change: bool) -> None:
        data = form.cleaned_data
        fields = {
            "name": data.get("name") or "",
            "message": data["message"],
            "criteria": data.get("criteria") or {},
            "saved_audience": data.get("saved_audience"),
            "campaign": data.get("campaign"),
            "external_campaign_id": data.get("external_campaign_id") or "",
            "google_analytics_campaign_name": data.get("google_analytics_campaign_name") or "",
        }
        request.broadcast_send_at = form.send_at  # for response_add and response_change
        if not change:
            created = create_broadcast(email_list=obj.list, created_by=request.user, **fields)
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        # Only while it may still change: a worker may have started it meanwhile.
        if not update_broadcast(broadcast=obj, **fields):
            request.broadcast_not_saved = True  # said by response_change

    def response_add(self, request, obj: Broadcast, post_url_continue=None):
        if sending_asked(request.POST):
            return self._send(request, obj)
        self._warn_unsendable(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj: Broadcast):
        if getattr(request, "broadcast_not_saved", False):
            messages.error(
                request,
                f"“{obj}” started sending while you edited it: your changes were not saved.",
            )
            return back_to(self, obj.pk)
        if sending_asked(request.POST):
            return self._send(request, obj)
        self._warn_unsendable(request, obj)
        return super().response_change(request, obj)

    def _send(self, request: HttpRequest, broadcast: Broadcast) -> HttpResponse:
        send_at = (
            getattr(request, "broadcast_send_at", None)
            if sending_asked(request.POST) == SEND_AT
            else None
        )
        try:
            schedule_broadcast(broadcast=broadcast, send_at=send_at)
        except ValidationError as error:
            messages.warning(request, f"“{broadcast}” was saved as a draft, and not sent:")
            refused(request, error)
        else:
            if send_at is None:
                messages.success(request, f"“{broadcast}” is sending now: follow it below.")
            else:
                messages.success(
                    request,
                    f"“{broadcast}” is scheduled: it sends {when(send_at, broadcast.list)}.",
                )
        return back_to(self, broadcast.pk)

    def _warn_unsendable(self, request: HttpRequest, broadcast: Broadcast) -> None:
        for problem in sendable_warnings(broadcast.message):
            messages.warning(request, f"Before it can be sent: {problem}")

    # --- The page ---------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        may_send = self.may_send(request)
        context["send_controls"] = may_send and (obj is None or editable(obj))
        context["zone"] = (
            context["adminform"].form.email_list.time_zone if context["send_controls"] else ""
        )
        if obj is not None:
            context.update(self._page(request, obj, may_send))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _page(self, request: HttpRequest, broadcast: Broadcast, may_send: bool) -> dict[str, Any]:
        page: dict[str, Any] = {"status_buttons": [], "scheduled_words": ""}
        if broadcast.status == BroadcastStatus.SCHEDULED:
            page["scheduled_words"] = f"Sends {when(broadcast.send_at, broadcast.list)}."
        if broadcast.started_at is not None or watched(broadcast):
            page["progress"] = progress(broadcast)
            page["progress_url"] = reverse(
                "admin:broadcasts_broadcast_progress", args=[broadcast.pk]
            )
        if broadcast.started_at is not None:
            page["report"] = report(broadcast)
            page["deliveries_url"] = deliveries_of(broadcast.pk)
        if may_send and broadcast.split_test_id is None:
            page["status_buttons"] = status_buttons(broadcast)
        return page

    def get_urls(self):
        return [*self.button_urls(), *super().get_urls()]

    # --- The list ---------------------------------------------------------------------

    def get_list_display(self, request: HttpRequest):
        return narrowed(super().get_list_display(request))

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)  # the page's rows, read once and kept
        figures = page_figures(rows)
        for row in rows:
            row.page_figures = figures.get(row.pk)  # read by the columns below
        return changelist

    @admin.display(description="Status", ordering="status")
    def status_in_list(self, obj: Broadcast) -> SafeString:
        return format_html(
            '<span class="broadcast-status status-{}" title="{}">{}</span>',
            obj.status.lower(),
            meaning(obj),
            obj.get_status_display(),
        )

    @admin.display(description="Send time", ordering="send_at")
    def send_time(self, obj: Broadcast) -> SafeString | str:
        return short_when(obj.send_at, obj.list) if obj.send_at else "—"

    @admin.display(description="Recipients", ordering="recipients")
    def recipients_in_list(self, obj: Broadcast) -> str:
        return f"{obj.recipients:,}" if obj.started_at else "—"

    @admin.display(description="Sent")
    def sent_in_list(self, obj: Broadcast) -> str:
        figures = getattr(obj, "page_figures", None)
        return f"{figures.sent:,}" if figures is not None else "—"

    @admin.display(description="Opened · clicked")
    def opens_and_clicks(self, obj: Broadcast) -> SafeString | str:
        figures = getattr(obj, "page_figures", None)
        if figures is None or not figures.delivered:
            return "—"
        opened, clicked = figures.opened / figures.delivered, figures.clicked / figures.delivered
        return format_html(
            '<span title="Shares of the {} delivered emails\' contacts">{} · {}</span>',
            f"{figures.delivered:,}",
            f"{opened:.1%}",
            f"{clicked:.1%}",
        )
