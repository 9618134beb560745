"""A thread's page: its steps in order, each moved in place by dragging or
with its "Move up" / "Move down" buttons and saved at once
(``step_lists``). Each step's settings are edited, and the step removed, on
the step's own page, whose form depends on its kind."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from conductor.admin.conversations import add_step_links
from conductor.admin.step_lists import may_move_steps, step_list
from conductor.diagram import Names, step_summary, thread_step_rows
from conductor.forms import ChildThreadForm, MainThreadForm
from conductor.models import Step, Thread, Version


def renumber_steps(thread: Thread) -> None:
    """Positions 0, 1, 2… in the saved order, once a step is removed: problems
    and the diagram name a step by its position."""
    steps = list(thread.steps.order_by("position", "id"))
    for index, step in enumerate(steps):
        step.position = index
    Step.objects.bulk_update(steps, ["position"])


def conversation_url(thread: Thread) -> str:
    return reverse("admin:conductor_conversation_change", args=[thread.version.conversation_id])


class StepSummaryMixin:
    @admin.display(description="What it does")
    def summary(self, obj: Step) -> str:
        if obj.pk is None:
            return ""
        return step_summary(obj, Names.of(obj.version, list(obj.version.steps.all())))


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    change_form_template = "admin/conductor/thread/change_form.html"

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # reached from its conversation's page, not the index

    def has_change_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        if obj is not None and obj.version.is_published:
            return False  # a published version never changes
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Thread | None = None) -> bool:
        if obj is not None and (obj.is_main or obj.version.is_published):
            return False
        return super().has_delete_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Thread | None = None):
        if obj is not None and obj.is_main:
            return ["name"]
        return ["name", "parent_step", "child_event", "link_url"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.is_main:
            kwargs["form"] = MainThreadForm
        else:
            version = obj.version if obj else self._version_for_add(request)
            kwargs["form"] = type("ChildThreadForm", (ChildThreadForm,), {"version": version})
        return super().get_form(request, obj, change, **kwargs)

    def _version_for_add(self, request: HttpRequest) -> Version | None:
        version = Version.objects.filter(
            pk=request.GET.get("version") or 0, published_at__isnull=True
        ).first()
        return version

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied  # before saying anything of the version asked for
        if self._version_for_add(request) is None:
            return HttpResponse("Add a child thread from a conversation's page.", status=400)
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj: Thread, form, change: bool) -> None:
        if not change:
            version = self._version_for_add(request)
            assert version is not None  # add_view answers 400 without one
            obj.version = version
            obj.position = obj.version.threads.count()
        super().save_model(request, obj, form, change)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            rows = dict(thread_step_rows(obj.version)).get(obj, [])
            context["step_list"] = step_list(obj, rows, may_move=may_move_steps(request))
            context["conversation_url"] = conversation_url(obj)
            context["add_step_links"] = (
                add_step_links(obj.pk) if not obj.version.is_published else SafeString("")
            )
            context["thread_where"] = format_html(
                "{} — version {}{}",
                obj.version.conversation,
                obj.version.number,
                " (published, read-only)" if obj.version.is_published else " (working)",
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj: Thread, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return HttpResponseRedirect(reverse("admin:conductor_thread_change", args=[obj.pk]))

    def response_change(self, request, obj: Thread):
        if "_continue" in request.POST:
            return super().response_change(request, obj)
        self.message_user(request, f"Saved {obj.name}.")
        return HttpResponseRedirect(conversation_url(obj))

    def delete_model(self, request: HttpRequest, obj: Thread) -> None:
        request.conductor_back_url = conversation_url(obj)  # type: ignore[attr-defined]  # kept for response_delete
        super().delete_model(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        back = getattr(request, "conductor_back_url", None)
        return HttpResponseRedirect(back or reverse("admin:conductor_conversation_changelist"))
