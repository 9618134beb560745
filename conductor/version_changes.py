"""What the working version changes from the published one, in words: what
publishing it again would change for new contacts. Steps are matched by
their key, which a version's copy keeps; messages by the content frozen
when the version was published."""

from __future__ import annotations

from conductor.models import Step, Thread, Version
from conductor.steps.context import step_label
from emails.models import Message, MessageContent

#: How many changes the line names before "and N more".
CHANGES_SHOWN = 6

#: What a step or thread is made of; their order is compared on its own.
STEP_FIELDS = ("kind", "name", "settings")
THREAD_FIELDS = ("child_event", "link_url")


def _thread_id(thread: Thread) -> str:
    """How a thread is recognised in both versions: the main one, or by name."""
    return "main" if thread.is_main else f"child:{thread.name}"


def _parent_key(thread: Thread) -> str:
    return str(thread.parent_step.key) if thread.parent_step else ""


def _step_words(step: Step) -> str:
    name = f" “{step.name}”" if step.name else ""
    return f"{step_label(step)} {step.get_kind_display()}{name}"


def version_changes(working: Version, published: Version) -> list[str]:
    """Each difference in a few words ("Main #4 Go To added"), threads
    first, then steps in order, then edited messages; empty when publishing
    ``working`` would change nothing."""
    changes: list[str] = []
    old_threads = {_thread_id(t): t for t in published.threads.select_related("parent_step")}
    new_threads = {_thread_id(t): t for t in working.threads.select_related("parent_step")}
    for key, thread in new_threads.items():
        old = old_threads.get(key)
        if old is None:
            changes.append(f"thread {thread.name} added")
        elif old.name != thread.name:
            changes.append(f"thread {old.name} renamed {thread.name}")
        elif _parent_key(old) != _parent_key(thread) or any(
            getattr(old, f) != getattr(thread, f) for f in THREAD_FIELDS
        ):
            changes.append(f"thread {thread.name}: what starts it changed")
    changes += [f"thread {t.name} removed" for k, t in old_threads.items() if k not in new_threads]

    def steps_of(version: Version) -> dict[str, Step]:
        steps = Step.objects.filter(version=version).select_related("thread")
        return {str(s.key): s for s in steps.order_by("thread__position", "position", "id")}

    old_steps, new_steps = steps_of(published), steps_of(working)
    for key, step in new_steps.items():
        was = old_steps.get(key)
        if was is None:
            changes.append(f"{_step_words(step)} added")
        elif any(getattr(was, f) != getattr(step, f) for f in STEP_FIELDS):
            changes.append(f"{_step_words(step)} changed")
        elif _thread_id(was.thread) != _thread_id(step.thread):
            changes.append(f"{_step_words(step)} moved to thread {step.thread.name}")
    changes += [f"{_step_words(s)} removed" for k, s in old_steps.items() if k not in new_steps]
    changes += _reordered(old_steps, new_steps)
    changes += _edited_messages(published)
    return changes


def _reordered(old_steps: dict[str, Step], new_steps: dict[str, Step]) -> list[str]:
    """Threads whose steps kept in both versions now run in another order."""

    def order(steps: dict[str, Step]) -> dict[str, list[str]]:
        by_thread: dict[str, list[Step]] = {}
        for key, step in steps.items():
            if key in old_steps and key in new_steps:
                by_thread.setdefault(_thread_id(step.thread), []).append(step)
        return {
            thread: [str(s.key) for s in sorted(steps, key=lambda s: (s.position, s.pk))]
            for thread, steps in by_thread.items()
        }

    before, after = order(old_steps), order(new_steps)
    names = {_thread_id(s.thread): s.thread.name for s in new_steps.values()}
    return [
        f"steps of thread {names[thread]} reordered"
        for thread, keys in after.items()
        if thread in before and before[thread] != keys
    ]


def _edited_messages(published: Version) -> list[str]:
    """Messages edited since ``published`` froze their content: publishing
    again sends their new text to contacts entering from then on."""
    frozen = {int(pk): content for pk, content in published.message_contents.items()}
    contents = MessageContent.objects.in_bulk(frozen.values())
    changes = []
    for message in Message.objects.filter(pk__in=frozen).order_by("name", "pk"):
        content = contents.get(frozen[message.pk])
        if content is not None and content.differs_from(message):
            changes.append(f"message “{message.name}” edited")
    return changes


def changes_line(working: Version, published: Version | None) -> str:
    """Whether publishing the working version would change anything, and what."""
    if published is None:
        return "Nothing is published yet: no contact enters until you publish."
    changes = version_changes(working, published)
    if not changes:
        return (
            f"The working version {working.number} is the same as published version "
            f"{published.number}: nothing to publish."
        )
    named = "; ".join(changes[:CHANGES_SHOWN])
    more = f"; and {len(changes) - CHANGES_SHOWN} more" if len(changes) > CHANGES_SHOWN else ""
    return (
        f"The working version {working.number} differs from published version "
        f"{published.number} ({named}{more}): publish it to let new contacts in on it."
    )
