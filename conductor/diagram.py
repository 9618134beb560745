"""A version drawn as inline SVG, built on the server (no script, no CDN):
threads as columns, steps as boxes in order with their kind and a short
summary, arrows from jumping steps (Go To) to their targets, child threads
joined to their Wait. What a step says and where it jumps is its unit's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from conductor.models import Step, Thread, Version
from conductor.steps.context import Names, step_label
from conductor.steps.unit import unit_of

COLUMN, BOX_WIDTH, BOX_HEIGHT, ROW = 300, 220, 62, 96
TOP, LEFT = 34, 16


class StepCounts(NamedTuple):
    waiting: int = 0
    held: int = 0
    passed: int = 0


def step_summary(step: Step, names: Names) -> str:
    """A few words on what a step does, for the diagram and lists (its unit's)."""
    return unit_of(step).summary(step, names)


def _layout(threads: list[Thread], by_thread: dict[int, list[Step]]) -> dict[int, tuple[int, int]]:
    """(column, first row) per thread: a child thread starts level with its Wait."""
    place: dict[int, tuple[int, int]] = {}
    row_of: dict[int, int] = {}
    pending = list(threads)
    while pending:
        waiting = []
        for thread in pending:
            if thread.parent_step_id and thread.parent_step_id not in row_of:
                waiting.append(thread)
                continue
            start = row_of.get(thread.parent_step_id, 0) if thread.parent_step_id else 0
            place[thread.pk] = (len(place), start)
            for index, step in enumerate(by_thread.get(thread.pk, [])):
                row_of[step.pk] = start + index
        if len(waiting) == len(pending):  # a parent step outside the version: draw at the top
            for thread in waiting:
                place[thread.pk] = (len(place), 0)
            break
        pending = waiting
    return place


def version_diagram(
    version: Version,
    *,
    counts: Mapping[int, StepCounts] | None = None,
    held_url: Callable[[Step], str] | None = None,
) -> SafeString:
    """The SVG of ``version``; ``counts`` (by step id) are written in the boxes,
    and a held count links to ``held_url(step)``."""
    threads = list(version.threads.all())
    steps = list(
        Step.objects.filter(version=version).select_related("thread").order_by("position", "id")
    )
    by_thread: dict[int, list[Step]] = {}
    for step in steps:
        by_thread.setdefault(step.thread_id, []).append(step)
    names = Names.of(version, steps)
    place = _layout(threads, by_thread)
    box: dict[int, tuple[int, int]] = {}  # step id -> (x, y) of its box
    parts: list[SafeString] = []
    for thread in threads:
        column, start = place[thread.pk]
        x = LEFT + column * COLUMN
        parts.append(
            format_html(
                '<text class="diagram-thread" x="{}" y="{}" font-weight="bold">{}{}</text>',
                x,
                TOP + start * ROW - 10,
                thread.name,
                f" (on {thread.get_child_event_display()})" if thread.child_event else "",
            )
        )
        thread_steps = by_thread.get(thread.pk, [])
        if not thread_steps:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-style="italic">(no steps)</text>',
                    x,
                    TOP + start * ROW + 20,
                )
            )
        for index, step in enumerate(thread_steps):
            y = TOP + (start + index) * ROW
            box[step.pk] = (x, y)
            figures = None if counts is None else counts.get(step.pk, StepCounts())
            parts.append(_step_box(step, x, y, names, figures, held_url))
            if index + 1 < len(thread_steps):
                parts.append(
                    format_html(
                        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#64748b" '
                        'marker-end="url(#diagram-arrow)"/>',
                        x + BOX_WIDTH // 2,
                        y + BOX_HEIGHT,
                        x + BOX_WIDTH // 2,
                        y + ROW,
                    )
                )
    parts.extend(_connections(threads, steps, box, names))
    columns = max((column for column, _ in place.values()), default=0) + 1
    rows = max((start + len(by_thread.get(pk, [])) for pk, (_, start) in place.items()), default=1)
    return format_html(
        '<div class="conductor-diagram" style="overflow:auto;max-width:100%">'
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
        'font-size="12" data-version="{}"><defs><marker id="diagram-arrow" viewBox="0 0 10 10" '
        'refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#334155"/></marker></defs>{}</svg></div>',
        LEFT * 2 + columns * COLUMN,
        TOP + max(rows, 1) * ROW,
        version.number,
        mark_safe("".join(parts)),  # each part was built with format_html
    )


def _step_box(
    step: Step,
    x: int,
    y: int,
    names: Names,
    counts: StepCounts | None,
    held_url: Callable[[Step], str] | None,
) -> SafeString:
    summary = step_summary(step, names)
    short = summary if len(summary) <= 34 else summary[:33] + "…"
    title = f"{step_label(step)} {step.get_kind_display()}" + (
        f": {step.name}" if step.name else ""
    )
    figures = SafeString("")
    if counts is not None:
        held = format_html("held {}", counts.held)
        if counts.held and held_url is not None:
            held = format_html('<a href="{}" fill="#b91c1c">{}</a>', held_url(step), held)
        figures = format_html(
            '<text class="diagram-counts" x="{}" y="{}">waiting {} · {} · passed {}</text>',
            x + 8,
            y + 54,
            counts.waiting,
            held,
            counts.passed,
        )
    return format_html(
        '<g class="diagram-step" data-step-key="{}" data-kind="{}"><title>{}: {}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" stroke="#475569"/>'
        '<text x="{}" y="{}" font-weight="bold">{}</text>'
        '<text x="{}" y="{}">{}</text>{}</g>',
        step.key,
        step.kind,
        title,
        summary,
        x,
        y,
        BOX_WIDTH,
        BOX_HEIGHT,
        unit_of(step).colour,
        x + 8,
        y + 18,
        title if len(title) <= 34 else title[:33] + "…",
        x + 8,
        y + 36,
        short,
        figures,
    )


def _connections(
    threads: list[Thread], steps: list[Step], box: dict[int, tuple[int, int]], names: Names
) -> list[SafeString]:
    """Jump arrows, e.g. a Go To's (solid, curving out to the side), and
    child-thread links (dashed)."""
    parts: list[SafeString] = []
    mid = BOX_HEIGHT // 2
    jumps = [
        (step, target)
        for step in steps
        for key in unit_of(step).jump_targets(step)
        if (target := names.steps.get(key)) is not None and target.pk in box
    ]
    for step, target in jumps:
        (x1, y1), (x2, y2) = box[step.pk], box[target.pk]
        if x2 > x1:
            start, end, bend = (x1 + BOX_WIDTH, y1 + mid), (x2, y2 + mid), 30
        elif x2 < x1:
            start, end, bend = (x1, y1 + mid), (x2 + BOX_WIDTH, y2 + mid), -30
        else:  # same thread: out of the right side and back
            start, end = (x1 + BOX_WIDTH, y1 + mid), (x2 + BOX_WIDTH, y2 + mid)
            bend = 30 + abs(y2 - y1) // 8
        parts.append(
            format_html(
                '<path class="diagram-goto" data-from="{}" data-to="{}" d="M {} {} C {} {} {} {} '
                '{} {}" fill="none" stroke="#b45309" stroke-width="1.5" '
                'marker-end="url(#diagram-arrow)"/>',
                step.key,
                target.key,
                *start,
                start[0] + bend,
                start[1],
                end[0] + (bend if x2 == x1 else -bend),
                end[1],
                *end,
            )
        )
    by_thread = {thread.pk: thread for thread in threads}
    firsts: dict[int, Step] = {}
    for step in steps:
        firsts.setdefault(step.thread_id, step)
    for thread in by_thread.values():
        if thread.parent_step_id not in box or thread.pk not in firsts:
            continue
        (x1, y1), (x2, y2) = box[thread.parent_step_id], box[firsts[thread.pk].pk]
        parts.append(
            format_html(
                '<path class="diagram-child" data-thread="{}" d="M {} {} L {} {}" fill="none" '
                'stroke="#7c3aed" stroke-dasharray="5 4" marker-end="url(#diagram-arrow)"/>',
                thread.pk,
                x1 + BOX_WIDTH,
                y1 + mid,
                x2,
                y2 + mid,
            )
        )
    return parts


def thread_step_rows(version: Version) -> list[tuple[Thread, list[tuple[Step, str]]]]:
    """Each thread of ``version`` with its steps and their summaries, for tables."""
    steps = list(Step.objects.filter(version=version).select_related("thread"))
    names = Names.of(version, steps)
    return [
        (
            thread,
            [
                (step, step_summary(step, names))
                for step in sorted(steps, key=lambda s: (s.position, s.pk))
                if step.thread_id == thread.pk
            ],
        )
        for thread in version.threads.all()
    ]


__all__ = [
    "Names",
    "StepCounts",
    "step_label",
    "step_summary",
    "thread_step_rows",
    "version_diagram",
]
