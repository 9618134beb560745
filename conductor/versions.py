"""Creating conversations, publishing their working version, and the checks
that decide whether a version can be published (SPEC section 4)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Model
from django.utils import timezone

from conductor.models import Conversation, ConversationStatus, Step, Thread, Version
from conductor.steps.context import VersionContext, label
from conductor.steps.references import MESSAGE, referenced
from conductor.steps.registry import sending_kinds
from conductor.steps.unit import unit_of
from emails.contents import freeze
from emails.models import Message
from lists.models import List


def create_conversation(*, email_list: List, name: str) -> Conversation:
    """A new, unpublished conversation with a working version and its main thread."""
    with transaction.atomic():
        conversation = Conversation.objects.create(list=email_list, name=name)
        version = Version.objects.create(conversation=conversation, number=1)
        Thread.objects.create(version=version, name="Main", is_main=True)
    return conversation


def working_version(conversation: Conversation) -> Version:
    return Version.objects.get(conversation=conversation, published_at__isnull=True)


def published_version(conversation: Conversation) -> Version | None:
    """The version new contacts enter: the latest published one."""
    return (
        Version.objects.filter(conversation=conversation, published_at__isnull=False)
        .order_by("-number")
        .first()
    )


def version_problems(version: Version) -> list[str]:
    """Every reason ``version`` cannot be published, each naming its step or thread."""
    threads = list(version.threads.all())
    steps = list(Step.objects.filter(version=version).select_related("thread"))
    context = VersionContext(version=version, steps=steps, publishing=True)
    by_thread: dict[int, list[Step]] = defaultdict(list)
    for step in sorted(steps, key=lambda s: (s.position, s.pk)):
        by_thread[step.thread_id].append(step)
    problems: list[str] = []
    targets = {key for s in steps for key in unit_of(s).jump_targets(s)}
    for thread in threads:
        problems.extend(_thread_problems(thread, by_thread[thread.pk], targets))
    for step in steps:
        problems.extend(unit_of(step).check(step, context))
    problems.extend(_loops_without_wait(threads, by_thread, context))
    return problems


def _thread_problems(thread: Thread, steps: list[Step], targets: set[str]) -> list[str]:
    problems: list[str] = []
    if not steps:
        return [f"{thread.name} has no steps."]
    last = steps[-1]
    if unit_of(last).falls_through(last):
        problems.append(
            f"{thread.name} does not end in a Terminate step or a Go To without criteria."
        )
    for step, following in itertools.pairwise(steps):
        unit = unit_of(step)
        # After a Terminate, or a Go To every contact takes (to a step or the end), only a jump
        # reaches the next step.
        if not unit.falls_through(step) and str(following.key) not in targets:
            problems.append(f"{label(following)}: no step leads here (it follows a {unit.label}).")
    if not thread.is_main:
        parent = thread.parent_step
        if parent is None or not unit_of(parent).waits:
            problems.append(f"{thread.name} must hang off a Wait step.")
        elif not Step.objects.filter(
            thread_id=parent.thread_id, position__lt=parent.position, kind__in=sending_kinds()
        ).exists():
            # The engagement that starts it is with the message sent before the Wait.
            problems.append(f"{thread.name} hangs off a Wait that follows no Message step.")
        if thread.child_event == "ClickedLink" and not thread.link_url:
            problems.append(f"{thread.name}: choose the link whose click starts it.")
    return problems


def _loops_without_wait(
    threads: list[Thread], by_thread: dict[int, list[Step]], context: VersionContext
) -> list[str]:
    """A contact must never cycle through steps without passing a Wait: find
    cycles in the step graph with the steps that wait taken out."""

    def waits(step: Step) -> bool:
        return unit_of(step).waits

    edges: dict[int, list[int]] = defaultdict(list)
    for thread in threads:
        steps = by_thread[thread.pk]
        for index, step in enumerate(steps):
            unit = unit_of(step)
            if unit.waits:
                continue
            for key in unit.jump_targets(step):
                target = context.steps_by_key.get(key)
                if target is not None and not waits(target):
                    edges[step.pk].append(target.pk)
            following = steps[index + 1] if index + 1 < len(steps) else None
            if unit.falls_through(step) and following is not None and not waits(following):
                edges[step.pk].append(following.pk)
    names = {s.pk: s for s in context.steps}
    problems: list[str] = []
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in list(edges):
        stack = [(start, iter(edges[start]))]
        if state.get(start):
            continue
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child) :]
                problems.append(
                    "A loop without a Wait: "
                    + " → ".join(label(names[pk]) for pk in [*cycle, child])
                    + "."
                )
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges[child])))
    return problems


def publish(conversation: Conversation) -> Version:
    """Freeze the working version (refused with every problem named) and
    start a new working copy of it; new contacts enter the frozen one. An
    unpublished conversation becomes Published; a paused or closed one
    keeps its status (``conductor.status``) until it is resumed or reopened."""
    with transaction.atomic():
        # One publisher at a time per conversation.
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        version = working_version(conversation)
        problems = version_problems(version)
        if problems:
            raise ValidationError(problems, code="invalid_version")
        version.published_at = timezone.now()
        version.message_contents = {
            str(message.pk): freeze(message).pk for message in _messages_sent(version)
        }
        version.save(update_fields=["published_at", "message_contents"])
        copy_version(version)
        unpublished = locked.status == ConversationStatus.UNPUBLISHED
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.PUBLISHED if unpublished else locked.status,
            updated_at=version.published_at,
        )
    conversation.refresh_from_db()
    return version


def _messages_sent(version: Version) -> list[Message]:
    """The messages the version's steps send (their main and per-trigger ones)."""
    ids: set[int] = set()
    for step in Step.objects.filter(version=version):
        ids.update(referenced(step.settings, unit_of(step).references, MESSAGE))
    return list(Message.objects.filter(pk__in=ids))


#: What a version's copy keeps of each thread and step; their version, and a
#: child thread's parent step, are the copy's own.
THREAD_COPIED = ("name", "is_main", "position", "child_event", "link_url")
STEP_COPIED = ("key", "position", "kind", "name", "settings")

M = TypeVar("M", bound=Model)


def _copied(row: M, fields: tuple[str, ...], **own: object) -> M:
    """An unsaved row like ``row`` in its ``fields``, with the ``own`` values."""
    return type(row)(**{name: getattr(row, name) for name in fields}, **own)


def copy_version(version: Version) -> Version:
    """A new working version with the same threads and steps (the same keys,
    so Go To targets and child threads still point at the same steps)."""
    number = (
        Version.objects.filter(conversation_id=version.conversation_id).aggregate(Max("number"))[
            "number__max"
        ]
        + 1
    )
    copy = Version.objects.create(conversation_id=version.conversation_id, number=number)
    steps_by_key: dict[str, Step] = {}
    pending_children: list[tuple[Thread, str]] = []
    for thread in version.threads.select_related("parent_step"):
        new_thread = _copied(thread, THREAD_COPIED, version=copy)
        if thread.parent_step_id:
            assert thread.parent_step is not None  # its id is set
            pending_children.append((new_thread, str(thread.parent_step.key)))
        else:
            new_thread.save()
        for step in thread.steps.all():
            steps_by_key[str(step.key)] = _copied(
                step, STEP_COPIED, version=copy, thread=new_thread
            )
    # A child thread hangs off a step of the copy, which may itself be in a
    # child thread: save the steps whose thread exists, then the threads whose
    # parent step exists, until none is left.
    while True:
        ready = [s for s in steps_by_key.values() if s.pk is None and s.thread.pk is not None]
        Step.objects.bulk_create(ready)
        waiting = [(t, key) for t, key in pending_children if t.pk is None]
        placeable = [(t, key) for t, key in waiting if steps_by_key[key].pk is not None]
        if not placeable:
            break
        for thread, parent_key in placeable:
            thread.parent_step = steps_by_key[parent_key]
            thread.save()
    return copy
