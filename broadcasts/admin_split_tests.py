"""Split tests in the admin: write one (two to five messages, each chosen or
written in a popup, the share of the audience they are tried on, opens or
clicks and how long to wait before judging), send it now or at a time in
the list's time zone, and follow it: each group's figures with the leader
marked, the winner once chosen, and the rest of the audience's progress.

A split test is written once (``create_split_test``); after that its page
shows its settings as text, with the buttons that send and cancel it. The
buttons need the permission to change split tests, the page's refresh the
permission to view them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from broadcasts.admin_display import SPLIT_TEST_MEANINGS, duration, short_when, when
from broadcasts.admin_forms import (
    GROUP_LETTERS,
    SEND_AT,
    SendTimeForm,
    SplitTestForm,
    sending_asked,
)
from broadcasts.admin_groups import groups_context
from broadcasts.admin_pages import (
    audience_words,
    list_words,
    narrowed,
    reach,
    sendable_warnings,
)
from broadcasts.admin_views import asked_list, back_to, choose_list, post_only, refused
from broadcasts.audiences import REMAINDER
from broadcasts.models import Broadcast, SplitTest, SplitTestStatus
from broadcasts.services import cancel_split_test, create_split_test, schedule_split_test

SCHEDULABLE = (SplitTestStatus.DRAFT, SplitTestStatus.SCHEDULED)
CANCELLABLE = (*SCHEDULABLE, SplitTestStatus.TESTING, SplitTestStatus.SENDING_WINNER)


@admin.register(SplitTest)
class SplitTestAdmin(admin.ModelAdmin):
    form = SplitTestForm
    change_form_template = "admin/broadcasts/splittest/change_form.html"
    list_display = [
        "name",
        "list",
        "status_in_list",
        "send_time",
        "metric_in_list",
        "winner_in_list",
        "campaign",
    ]
    list_filter = ["status", "list", "campaign"]
    list_select_related = ["list", "campaign", "winner"]
    search_fields = ["name"]
    list_per_page = 50

    class Media:
        css = {"all": ["broadcasts/broadcasts.css"]}

    # --- Permissions ---------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: SplitTest | None = None) -> bool:
        if obj is not None:
            return False  # written once: its page shows it as text, with its buttons
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: SplitTest | None = None) -> bool:
        if obj is not None and obj.status != SplitTestStatus.DRAFT:
            return False  # its emails name its groups
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """A draft's groups go with it: deleting it needs no permission on
        broadcasts (their admin refuses to delete a split test's group alone)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Broadcast._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def may_send(self, request: HttpRequest) -> bool:
        """Sending and cancelling: the permission to change split tests."""
        return super().has_change_permission(request)

    # --- The form ---------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: SplitTest | None = None):
        if obj is not None:
            return [
                (None, {"fields": ["list_shown", "name", "campaign", "status_shown"]}),
                ("Test", {"fields": ["share_shown", "metric_shown", "decide_shown"]}),
                ("Audience", {"fields": ["audience_shown"]}),
            ]
        messages_help = (
            "Each group gets one message; groups C to E are optional. Write a message for "
            "each version you want to try: another subject, another offer."
        )
        return [
            (None, {"fields": ["list_shown", "name", "campaign"]}),
            (
                "Messages",
                {
                    "fields": [f"message_{letter.lower()}" for letter in GROUP_LETTERS],
                    "description": messages_help,
                },
            ),
            (
                "Test",
                {"fields": ["test_share", "winner_metric", ("decide_hours", "decide_minutes")]},
            ),
            (
                "Audience",
                {
                    "fields": ["audience", "saved_audience", "criteria", "reach_now"],
                    "classes": ["broadcast-audience"],
                },
            ),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: SplitTest | None = None):
        return ["list_shown", "reach_now"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm  # shown as text: nothing to clean
            return super().get_form(request, obj, change, **kwargs)
        form = super().get_form(request, obj, change, **kwargs)
        email_list = asked_list(request)
        attrs = {"email_list": email_list, "request": request, "admin_site": self.admin_site}
        return type(form.__name__, (form,), attrs)

    @admin.display(description="List")
    def list_shown(self, obj: SplitTest) -> SafeString:
        return list_words(obj)

    @admin.display(description="Reaches")
    def reach_now(self, obj: SplitTest) -> SafeString:
        return reach(obj, what="split test")

    @admin.display(description="Status")
    def status_shown(self, obj: SplitTest) -> SafeString:
        return format_html("<strong>{}</strong> — {}", obj.get_status_display(), _meaning(obj))

    @admin.display(description="Test share")
    def share_shown(self, obj: SplitTest) -> str:
        groups = obj.broadcasts.exclude(split_group=REMAINDER).count()
        rest = (
            "there is no rest: the groups are the whole audience"
            if obj.test_share >= 100
            else f"the other {100 - obj.test_share}% get the winner"
        )
        return f"{obj.test_share}% of the audience, in {groups} equal groups; {rest}."

    @admin.display(description="Judged by")
    def metric_shown(self, obj: SplitTest) -> str:
        did = "clicked" if obj.winner_metric == "Clicks" else "opened"
        return (
            f"{obj.get_winner_metric_display()}: the group whose emails the larger share of its "
            f"contacts {did} wins"
        )

    @admin.display(description="Decide after")
    def decide_shown(self, obj: SplitTest) -> str:
        return f"{duration(obj.decide_after)} after the groups are sent"

    @admin.display(description="Audience")
    def audience_shown(self, obj: SplitTest) -> str:
        return audience_words(obj.list, criteria=obj.criteria, saved_audience=obj.saved_audience)

    # --- Adding and sending ---------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied  # before saying anything of the lists
        asking = choose_list(self, request)
        if asking is not None:
            return asking
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and sending_asked(request.POST) and not self.may_send(request):
            raise PermissionDenied(
                "Sending a split test needs the permission to change split tests."
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: SplitTest, form, change: bool) -> None:
        data = form.cleaned_data
        created = create_split_test(
            email_list=obj.list,
            name=data.get("name") or "",
            messages=form.messages(),
            test_share=data["test_share"],
            winner_metric=data["winner_metric"],
            decide_after=form.decide_after(),
            criteria=data.get("criteria") or {},
            saved_audience=data.get("saved_audience"),
            campaign=data.get("campaign"),
            created_by=request.user,
        )
        request.split_test_send_at = form.send_at  # for response_add
        obj.pk = created.pk
        obj.refresh_from_db()

    def response_add(self, request, obj: SplitTest, post_url_continue=None):
        if sending_asked(request.POST):
            send_at = getattr(request, "split_test_send_at", None)
            return self._send(
                request, obj, send_at if sending_asked(request.POST) == SEND_AT else None
            )
        for group in obj.broadcasts.select_related("message"):
            for problem in sendable_warnings(group.message):
                messages.warning(request, f"Before it can be sent: {problem}")
        return super().response_add(request, obj, post_url_continue)

    def _send(self, request: HttpRequest, split_test: SplitTest, send_at: Any) -> HttpResponse:
        try:
            schedule_split_test(split_test=split_test, send_at=send_at)
        except ValidationError as error:
            messages.warning(request, f"“{split_test}” was saved as a draft, and not sent:")
            refused(request, error)
        else:
            if send_at is None:
                messages.success(
                    request, f"“{split_test}” is sending its groups now: follow them below."
                )
            else:
                messages.success(
                    request,
                    f"“{split_test}” is scheduled: its groups are sent "
                    f"{when(send_at, split_test.list)}.",
                )
        return back_to(self, split_test.pk)

    # --- The page ---------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        may_send = self.may_send(request)
        if obj is None:
            context["send_controls"] = may_send
            context["zone"] = context["adminform"].form.email_list.time_zone
        else:
            context.update(self._page(obj, may_send))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _page(self, split_test: SplitTest, may_send: bool) -> dict[str, Any]:
        page: dict[str, Any] = {
            "groups": groups_context(split_test),
            "progress_url": reverse("admin:broadcasts_splittest_progress", args=[split_test.pk]),
            "cancel_url": "",
            "schedule_form": None,
        }
        if may_send and split_test.status in CANCELLABLE:
            page["cancel_url"] = reverse("admin:broadcasts_splittest_cancel", args=[split_test.pk])
        if may_send and split_test.status in SCHEDULABLE:
            page["schedule_form"] = SendTimeForm(email_list=split_test.list)
            page["schedule_url"] = reverse(
                "admin:broadcasts_splittest_schedule", args=[split_test.pk]
            )
            page["zone"] = split_test.list.time_zone
        if split_test.status == SplitTestStatus.SCHEDULED:
            page["scheduled_words"] = (
                f"Its groups are sent {when(split_test.send_at, split_test.list)}."
            )
        return page

    # --- The list ---------------------------------------------------------------------

    def get_list_display(self, request: HttpRequest):
        return narrowed(super().get_list_display(request))

    @admin.display(description="Status", ordering="status")
    def status_in_list(self, obj: SplitTest) -> SafeString:
        return format_html(
            '<span class="broadcast-status status-{}" title="{}">{}</span>',
            obj.status.lower().replace(" ", "-"),
            _meaning(obj),
            obj.get_status_display(),
        )

    @admin.display(description="Send time", ordering="send_at")
    def send_time(self, obj: SplitTest) -> SafeString | str:
        return short_when(obj.send_at, obj.list) if obj.send_at else "—"

    @admin.display(description="Judged by", ordering="winner_metric")
    def metric_in_list(self, obj: SplitTest) -> str:
        return obj.get_winner_metric_display()

    @admin.display(description="Winner")
    def winner_in_list(self, obj: SplitTest) -> str:
        return f"Group {obj.winner.split_group}" if obj.winner is not None else "—"

    # --- Buttons and views --------------------------------------------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        mine = [
            path(
                "<int:object_id>/progress/",
                view(self.progress_view),
                name="broadcasts_splittest_progress",
            ),
            path(
                "<int:object_id>/schedule/",
                view(self.schedule_view),
                name="broadcasts_splittest_schedule",
            ),
            path(
                "<int:object_id>/cancel/",
                view(self.cancel_view),
                name="broadcasts_splittest_cancel",
            ),
        ]
        return [*mine, *super().get_urls()]

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The groups and the winner, as the page refreshes them."""
        split_test = get_object_or_404(SplitTest.objects.select_related("list"), pk=object_id)
        if not self.has_view_permission(request, split_test):
            raise PermissionDenied("Following a split test needs the permission to view them.")
        groups = groups_context(split_test)
        html = render_to_string(
            "admin/broadcasts/splittest/groups.html", {"groups": groups}, request
        )
        return JsonResponse(
            {"status": split_test.status, "html": html, "refreshSeconds": groups["refresh_seconds"]}
        )

    def schedule_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        split_test = self._for_button(request, object_id, "Sending")
        if isinstance(split_test, HttpResponse):
            return split_test
        form = SendTimeForm(request.POST, email_list=split_test.list)
        if not form.is_valid():
            for problems in form.errors.values():
                for problem in problems:
                    messages.error(request, f"Not scheduled: {problem}")
            return back_to(self, split_test.pk)
        return self._send(request, split_test, form.send_at)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        split_test = self._for_button(request, object_id, "Cancelling")
        if isinstance(split_test, HttpResponse):
            return split_test
        try:
            cancel_split_test(split_test=split_test)
        except ValidationError as error:
            refused(request, error)
        else:
            messages.success(
                request,
                f"Cancelled “{split_test}”: no email still waiting is sent, and no winner "
                "goes to the rest.",
            )
        return back_to(self, split_test.pk)

    def _for_button(
        self, request: HttpRequest, object_id: str, doing: str
    ) -> SplitTest | HttpResponse:
        wrong = post_only(request)
        if wrong is not None:
            return wrong
        split_test = get_object_or_404(SplitTest.objects.select_related("list"), pk=object_id)
        if not self.may_send(request):
            raise PermissionDenied(
                f"{doing} a split test needs the permission to change split tests."
            )
        return split_test


def _meaning(split_test: SplitTest) -> str:
    if split_test.status == SplitTestStatus.SCHEDULED and split_test.send_at:
        return f"Its groups are sent {when(split_test.send_at, split_test.list)}."
    return SPLIT_TEST_MEANINGS[SplitTestStatus(split_test.status)]
