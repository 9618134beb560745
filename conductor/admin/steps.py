"""A step's page: its kind's settings as form fields (the form of the kind's
unit, ``conductor.steps``). A new step is added at the end of a thread of the
working version, with ``?thread=<id>&kind=<kind>`` (a registered kind with a
form); a published version's steps are read-only, and so are steps of a kind
without a form or no longer registered."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from conductor.admin.message_links import add_message_links
from conductor.admin.step_lists import move_view
from conductor.admin.threads import StepSummaryMixin, renumber_steps
from conductor.forms import step_form_for
from conductor.models import Step, Thread
from conductor.steps.registry import find_unit
from conductor.steps.unit import unit_of

READ_ONLY_FIELDS = ["thread", "kind", "name", "summary", "settings_json"]


def _editable(kind: str) -> bool:
    """Whether steps of ``kind`` can be added and edited here: a registered kind with a form."""
    unit = find_unit(kind)
    return unit is not None and unit.form is not None


@admin.register(Step)
class StepAdmin(StepSummaryMixin, admin.ModelAdmin):
    change_form_template = "admin/conductor/step/change_form.html"

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # reached from its thread's page, not the index

    def has_change_permission(self, request: HttpRequest, obj: Step | None = None) -> bool:
        if obj is not None and obj.version.is_published:
            return False  # a published version never changes
        if obj is not None and not _editable(obj.kind):
            return False  # no form to write its settings with
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Step | None = None) -> bool:
        if obj is not None and obj.version.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        # Before the admin's own: "move/" is not a step's id.
        move = path("move/", self.admin_site.admin_view(move_view), name="conductor_step_move")
        return [move, *super().get_urls()]

    # --- Which thread and kind ---------------------------------------------

    def _new_step_target(self, request: HttpRequest) -> tuple[Thread | None, str]:
        kind = request.GET.get("kind", "")
        thread = (
            Thread.objects.select_related("version__conversation__list")
            .filter(pk=request.GET.get("thread") or 0, version__published_at__isnull=True)
            .first()
        )
        return thread, kind if _editable(kind) else ""

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied  # before saying anything of the thread asked for
        thread, kind = self._new_step_target(request)
        if thread is None or not kind:
            return HttpResponse(
                "Add a step from a thread of a working version (?thread=…&kind=…).", status=400
            )
        return super().add_view(request, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and not self.has_change_permission(request, obj):
            kwargs["fields"] = []
            return super().get_form(request, obj, change, **kwargs)
        if obj is None:
            thread, kind = self._new_step_target(request)
        else:
            thread, kind = obj.thread, obj.kind
        kwargs["form"] = step_form_for(kind, thread)
        # Only "name" is a model field; the settings fields are the form's own.
        kwargs["fields"] = ["name"]
        return self._with_message_links(super().get_form(request, obj, change, **kwargs), request)

    def _with_message_links(
        self, form: type[forms.ModelForm], request: HttpRequest
    ) -> type[forms.ModelForm]:
        """``form`` with the "+" and pencil beside its choices of messages
        (``message_links``): they need the user, which a form does not know."""
        admin_site = self.admin_site

        class WithMessageLinks(form):  # type: ignore[valid-type,misc]  # a class made at run time
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                add_message_links(self, request, admin_site, self.email_list.pk)

        WithMessageLinks.__name__ = form.__name__
        return WithMessageLinks

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return [(None, {"fields": READ_ONLY_FIELDS})]
        thread, kind = (obj.thread, obj.kind) if obj else self._new_step_target(request)
        assert thread is not None  # add_view refuses a missing thread before any form
        fieldsets = step_form_for(kind, thread).layout(thread.version)
        if obj is not None and unit_of(obj).waits:
            fieldsets.append(("Child threads", {"fields": ["child_threads"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return READ_ONLY_FIELDS
        return ["child_threads"] if obj is not None and unit_of(obj).waits else []

    @admin.display(description="Settings")
    def settings_json(self, obj: Step) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.settings, indent=2, sort_keys=True))

    @admin.display(description="Child threads")
    def child_threads(self, obj: Step) -> SafeString:
        threads = format_html_join(
            "",
            '<li><a href="{}">{}</a> on {}</li>',
            (
                (
                    reverse("admin:conductor_thread_change", args=[t.pk]),
                    t.name,
                    t.get_child_event_display(),
                )
                for t in obj.child_threads.all()
            ),
        )
        add_url = reverse("admin:conductor_thread_add") + f"?version={obj.version_id}"
        return format_html(
            '<ul>{}</ul><a class="button" href="{}&parent_step={}">+ Child thread</a>',
            threads,
            add_url,
            obj.pk,
        )

    # --- Saving and where to go next ------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        thread = obj.thread if obj else self._new_step_target(request)[0]
        if thread is not None:
            context["thread_url"] = reverse("admin:conductor_thread_change", args=[thread.pk])
            context["thread"] = thread
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj: Step, post_url_continue=None):
        if "_continue" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"Added {obj.get_kind_display()} step to {obj.thread.name}.")
        return HttpResponseRedirect(reverse("admin:conductor_thread_change", args=[obj.thread_id]))

    def response_change(self, request, obj: Step):
        if "_continue" in request.POST:
            return super().response_change(request, obj)
        self.message_user(request, f"Saved {obj.get_kind_display()} step.")
        return HttpResponseRedirect(reverse("admin:conductor_thread_change", args=[obj.thread_id]))

    def delete_model(self, request: HttpRequest, obj: Step) -> None:
        thread = obj.thread
        super().delete_model(request, obj)
        renumber_steps(thread)
        request.conductor_thread_id = thread.pk  # type: ignore[attr-defined]  # kept for response_delete

    def response_delete(self, request, obj_display, obj_id):
        thread_id = getattr(request, "conductor_thread_id", None)
        if thread_id is None:
            return super().response_delete(request, obj_display, obj_id)
        return HttpResponseRedirect(reverse("admin:conductor_thread_change", args=[thread_id]))
