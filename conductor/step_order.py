"""Moving a step to another place in its thread, in the working version: the
editor's drag-and-drop and its "Move up" / "Move down" buttons save each
move at once through ``move_step``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from conductor.models import Conversation, Step, Thread, Version


def _refused(words: str) -> ValidationError:
    return ValidationError(words, code="move_refused")


def move_step(*, step_id: int, thread_id: int, position: int) -> Step:
    """Put the step at ``position`` (1 is the first) of ``thread_id``, which
    must be its own thread, in a working version; the steps after it close
    up. Refused in words: a step or thread gone, a thread of another version
    or another thread, a published version, a position outside the thread."""
    with transaction.atomic():
        step = Step.objects.select_related("thread", "version").filter(pk=step_id).first()
        thread = Thread.objects.select_related("version").filter(pk=thread_id).first()
        if step is None:
            raise _refused("That step no longer exists. Reload the page to see the thread now.")
        if thread is None:
            raise _refused("That thread no longer exists. Reload the page to see the version now.")
        name = f"“{step.name or step.get_kind_display()}”"
        if thread.version_id != step.version_id:
            raise _refused(
                f"{name} is a step of version {step.version.number}; it cannot move into "
                f"version {thread.version.number}. Steps move only within their own version."
            )
        if thread.pk != step.thread_id:
            raise _refused(
                f"{name} is a step of {step.thread.name}; it cannot move into {thread.name}. "
                "Steps move only within their own thread."
            )
        # Publishing holds this lock while it freezes the version: a move either lands
        # before the freeze (and is published) or sees the version published and is refused.
        Conversation.objects.select_for_update().get(pk=step.version.conversation_id)
        version = Version.objects.get(pk=step.version_id)
        if version.is_published:
            raise _refused(
                f"Version {version.number} is published and never changes. "
                "Move steps in the working version."
            )
        steps = list(
            Step.objects.select_for_update().filter(thread=thread).order_by("position", "id")
        )
        if not 1 <= position <= len(steps):
            raise _refused(
                f"Position {position} is out of range: {thread.name} has {len(steps)} "
                f"step{'s' if len(steps) != 1 else ''}, so a step can go to 1 to {len(steps)}."
            )
        moved = next(s for s in steps if s.pk == step.pk)
        steps.remove(moved)
        steps.insert(position - 1, moved)
        for index, each in enumerate(steps):
            each.position = index
        Step.objects.bulk_update(steps, ["position"])
    return moved
