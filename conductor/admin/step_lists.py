"""A thread's steps as a list to reorder in place: drag a step, or use its
"Move up" / "Move down" buttons (``conductor/static/conductor/step_order.js``).
Each move is saved at once by ``move_view``, which answers with every
thread's list and the diagram drawn again, since moving a step renumbers the
steps after it and a Go To names its target by number."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from conductor.diagram import thread_step_rows, version_diagram
from conductor.models import Step, Thread, Version
from conductor.step_order import move_step
from conductor.version_changes import changes_line
from conductor.versions import published_version

MEDIA_TEMPLATE = "admin/conductor/step/step_order_media.html"


def may_move_steps(request: HttpRequest) -> bool:
    """Moving a step changes the step and the conversation: either right will do."""
    user = request.user
    return user.has_perm("conductor.change_step") or user.has_perm("conductor.change_conversation")


def step_list(thread: Thread, rows: list[tuple[Step, str]], *, may_move: bool) -> SafeString:
    """The steps of ``thread`` (``rows``: each with its summary, in order) as a
    list; with ``may_move`` and a working version, one to reorder."""
    movable = may_move and not thread.version.is_published
    return mark_safe(  # a template's output, escaped there
        render_to_string(
            "admin/conductor/step/step_order.html",
            {"thread": thread, "rows": rows, "movable": movable, "count": len(rows)},
        )
    )


def version_step_lists(version: Version, *, may_move: bool) -> dict[int, SafeString]:
    """Every thread's ``step_list`` of ``version``, by thread id."""
    return {
        thread.pk: step_list(thread, rows, may_move=may_move)
        for thread, rows in thread_step_rows(version)
    }


def _step_url(step: Step) -> str:
    return reverse("admin:conductor_step_change", args=[step.pk])


def _thread_url(thread: Thread) -> str:
    return reverse("admin:conductor_thread_change", args=[thread.pk])


def _number(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "").strip()
    if not value:
        raise ValidationError(f"Say which {name} to move (“{name}” is missing).")
    if not value.lstrip("-").isdigit():
        raise ValidationError(f"The {name} “{value[:20]}” is not a whole number.")
    return int(value)


def _refusal(words: str, status: int) -> JsonResponse:
    return JsonResponse({"error": words}, status=status)


def move_view(request: HttpRequest) -> HttpResponse:
    """POST ``step``, ``thread`` (the step's own) and ``position`` (1 is the
    first): the step moves there, and the answer carries what the page shows
    anew (``lists`` by thread id, ``diagram``, ``changes`` from the published
    version, ``message``), or ``error`` in words."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not may_move_steps(request):
        return _refusal("Moving steps needs the permission to change steps or conversations.", 403)
    try:
        step = move_step(
            step_id=_number(request, "step"),
            thread_id=_number(request, "thread"),
            position=_number(request, "position"),
        )
    except ValidationError as error:
        return _refusal(" ".join(error.messages), 400)
    # Imported here: the conversation page's module lists steps with this one.

    version = Version.objects.select_related("conversation").get(pk=step.version_id)
    published = published_version(version.conversation)
    answer: dict[str, Any] = {
        "message": (
            f"Moved “{step.name or step.get_kind_display()}” to position {step.position + 1} "
            f"of {step.thread.name}. Saved."
        ),
        "version": version.number,
        "lists": version_step_lists(version, may_move=True),
        # As the conversation's page draws it: boxes and headings open their pages.
        "diagram": version_diagram(version, step_url=_step_url, thread_url=_thread_url),
        "changes": changes_line(version, published),
    }
    return JsonResponse(answer)
