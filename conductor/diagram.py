"""A version drawn as inline SVG, built on the server (no script, no CDN).

Each thread is a column of boxes, one per step in order: the kind as a
label, the step's whole name and a summary wrapped to the box (never cut
short), the counts when given, and the box a link to the step's page. A
child thread's column starts level with the Wait it hangs off, right after
its parent thread's column.

Arrows (``conductor.diagram_routes``): down to the next step only when
contacts may go on to it, so never out of a Terminate or a Go To without
criteria; Go To jumps (amber) and child threads (dashed purple) run through
the empty gutters between columns and gaps between rows, so no arrow
crosses a box. What a step says and where it jumps is its unit's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from conductor.diagram_routes import (
    BOX_WIDTH,
    COLUMN,
    LEFT,
    LINE,
    PAD,
    Box,
    Grid,
    arrows,
)
from conductor.diagram_text import wrap
from conductor.models import Step, Thread, Version
from conductor.steps.context import Names, step_label
from conductor.steps.unit import unit_of

TEXT_WIDTH = BOX_WIDTH - 2 * PAD
#: The kind label's pill, then the name and summary lines below it.
LABEL_HEIGHT, LABEL_GAP = 16, 6
#: Between rows: room for the arrows' lanes and a child thread's heading.
ROW_GAP = 44
HEADING_WIDTH = COLUMN - 24


class StepCounts(NamedTuple):
    waiting: int = 0
    held: int = 0
    passed: int = 0


def step_summary(step: Step, names: Names) -> str:
    """A few words on what a step does, for the diagram and lists (its unit's)."""
    return unit_of(step).summary(step, names)


@dataclass
class _Column:
    thread: Thread
    index: int
    first_row: int
    steps: list[Step] = field(default_factory=list)
    heading: list[tuple[str, bool]] = field(default_factory=list)  # (line, bold)


def _column_order(threads: list[Thread], by_thread: dict[int, list[Step]]) -> list[Thread]:
    """The main thread first, each child thread right after the thread it
    hangs off (in the order of their Waits), so most child arrows are short."""
    children: dict[int, list[Thread]] = defaultdict(list)
    for thread in threads:
        if thread.parent_step_id:
            children[thread.parent_step_id].append(thread)
    order: list[Thread] = []

    def visit(thread: Thread) -> None:
        order.append(thread)
        for step in by_thread.get(thread.pk, []):
            for child in children.get(step.pk, []):
                if child not in order:
                    visit(child)

    for thread in threads:
        if not thread.parent_step_id:
            visit(thread)
    # A parent step outside the version (only a broken copy has one): last.
    order.extend(thread for thread in threads if thread not in order)
    return order


def _heading(thread: Thread) -> list[tuple[str, bool]]:
    lines = [(line, True) for line in wrap(thread.name, HEADING_WIDTH, bold=True)]
    if thread.child_event:
        when = f"on {thread.get_child_event_display()}"
        if thread.link_url:
            when += f": {thread.link_url}"
        lines += [(line, False) for line in wrap(when, HEADING_WIDTH)]
    return lines


def _boxes(
    version: Version, counts: Mapping[int, StepCounts] | None
) -> tuple[list[_Column], dict[int, Box]]:
    """A column per thread and a box per step (by step id), in grid cells."""
    threads = list(version.threads.all())
    steps = list(
        Step.objects.filter(version=version).select_related("thread").order_by("position", "id")
    )
    names = Names.of(version, steps)
    by_thread: dict[int, list[Step]] = defaultdict(list)
    for step in steps:
        by_thread[step.thread_id].append(step)
    columns: list[_Column] = []
    boxes: dict[int, Box] = {}
    row_of: dict[int, int] = {}
    for index, thread in enumerate(_column_order(threads, by_thread)):
        first_row = row_of.get(thread.parent_step_id or 0, 0)
        column = _Column(thread, index, first_row, by_thread[thread.pk], _heading(thread))
        columns.append(column)
        for offset, step in enumerate(column.steps):
            row_of[step.pk] = first_row + offset
            figures = None if counts is None else counts.get(step.pk, StepCounts())
            boxes[step.pk] = Box(
                step=step,
                column=index,
                row=first_row + offset,
                name_lines=wrap(step.name, TEXT_WIDTH, bold=True) if step.name else [],
                summary_lines=wrap(step_summary(step, names), TEXT_WIDTH),
                counted=figures is not None,
                figures=figures,
            )
    return columns, boxes


def _box_height(box: Box) -> int:
    lines = len(box.name_lines) + len(box.summary_lines) + (1 if box.counted else 0)
    return PAD + LABEL_HEIGHT + LABEL_GAP + lines * LINE + PAD


def _grid(columns: list[_Column], boxes: dict[int, Box]) -> Grid:
    """Row tops and heights: a row is as tall as its tallest box."""
    rows = max((column.first_row + max(len(column.steps), 1) for column in columns), default=1)
    heights = [PAD + LABEL_HEIGHT + LABEL_GAP + LINE + PAD] * rows
    for box in boxes.values():
        box.height = _box_height(box)
        heights[box.row] = max(heights[box.row], box.height)
    top_heading = max((len(c.heading) for c in columns if c.first_row == 0), default=1)
    tops = [12 + top_heading * LINE]
    for height in heights[:-1]:
        tops.append(tops[-1] + height + ROW_GAP)
    grid = Grid(row_tops=tops, row_heights=heights)
    for box in boxes.values():
        box.x, box.y = LEFT + box.column * COLUMN, tops[box.row]
    return grid


def version_diagram(
    version: Version,
    *,
    counts: Mapping[int, StepCounts] | None = None,
    step_url: Callable[[Step], str] | None = None,
    thread_url: Callable[[Thread], str] | None = None,
    held_url: Callable[[Step], str] | None = None,
) -> SafeString:
    """The SVG of ``version``. ``counts`` (by step id) are written in the
    boxes; each box links to ``step_url(step)``, each heading to
    ``thread_url(thread)``, and a held count to ``held_url(step)``."""
    columns, boxes = _boxes(version, counts)
    grid = _grid(columns, boxes)
    parts: list[SafeString] = []
    for column in columns:
        parts.append(_heading_svg(column, grid, thread_url))
        if not column.steps:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-style="italic">(no steps yet)</text>',
                    LEFT + column.index * COLUMN + PAD,
                    grid.row_tops[column.first_row] + 2 * LINE,
                )
            )
    parts.extend(_step_svg(box, step_url, held_url) for box in boxes.values())
    parts.extend(arrows([c.thread for c in columns], boxes, grid))
    width = LEFT + max(len(columns), 1) * COLUMN
    height = grid.bottom + ROW_GAP
    # Drawn at its full size when there is room, else shrunk to the page's
    # width down to three quarters, then scrolled.
    return format_html(
        '<div class="conductor-diagram" style="overflow:auto;max-width:100%">'
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'style="max-width:100%;height:auto;min-width:{}px" font-family="sans-serif" '
        'font-size="12" data-version="{}" aria-label="Diagram of version {}">'
        "<defs>{}</defs>{}</svg></div>",
        width,
        height,
        width,
        height,
        width * 3 // 4,
        version.number,
        version.number,
        _markers(),
        mark_safe("".join(parts)),  # each part was built with format_html
    )


def _markers() -> SafeString:
    return format_html_join(
        "",
        '<marker id="{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="{}"/></marker>',
        [
            ("diagram-arrow", "#475569"),
            ("diagram-arrow-goto", "#b45309"),
            ("diagram-arrow-child", "#7c3aed"),
        ],
    )


def _lines(x: int, y: int, lines: list[str]) -> SafeString:
    return format_html_join(
        "",
        '<tspan x="{}" y="{}">{}</tspan>',
        ((x, y + i * LINE, line) for i, line in enumerate(lines)),
    )


def _heading_svg(
    column: _Column, grid: Grid, thread_url: Callable[[Thread], str] | None
) -> SafeString:
    """The thread's name (and, for a child thread, what starts it) just above
    its first box, on a white halo so an arrow passing behind keeps it legible."""
    x = LEFT + column.index * COLUMN
    bottom = grid.row_tops[column.first_row] - 8
    top = bottom - (len(column.heading) - 1) * LINE
    lines = format_html_join(
        "",
        '<tspan x="{}" y="{}" font-weight="{}">{}</tspan>',
        (
            (x, top + i * LINE, "bold" if bold else "normal", line)
            for i, (line, bold) in enumerate(column.heading)
        ),
    )
    text = format_html(
        '<text class="diagram-thread" data-thread="{}" stroke="#fff" stroke-width="4" '
        'paint-order="stroke" fill="#0f172a">{}</text>',
        column.thread.pk,
        lines,
    )
    if thread_url is None:
        return text
    return format_html('<a href="{}">{}</a>', thread_url(column.thread), text)


def _step_svg(
    box: Box,
    step_url: Callable[[Step], str] | None,
    held_url: Callable[[Step], str] | None,
) -> SafeString:
    step, x, y = box.step, box.x, box.y
    unit = unit_of(step)
    kind = unit.label
    label_width = 16 + len(kind) * 7
    text_y = y + PAD + LABEL_HEIGHT + LABEL_GAP + 10
    name = SafeString("")
    if box.name_lines:
        name = format_html(
            '<text class="diagram-name" font-weight="bold">{}</text>',
            _lines(x + PAD, text_y, box.name_lines),
        )
    summary_y = text_y + len(box.name_lines) * LINE
    summary = format_html(
        '<text class="diagram-summary" fill="#334155">{}</text>',
        _lines(x + PAD, summary_y, box.summary_lines),
    )
    drawn = format_html(
        "<title>{}: {}</title>"
        '<rect class="diagram-box" x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" '
        'stroke="#475569"/>'
        '<rect x="{}" y="{}" width="{}" height="{}" rx="8" fill="#fff" fill-opacity="0.75" '
        'stroke="#94a3b8"/>'
        '<text class="diagram-kind" x="{}" y="{}" font-size="11" font-weight="bold">{}</text>'
        '<text class="diagram-number" x="{}" y="{}" text-anchor="end" fill="#475569">#{}</text>'
        "{}{}",
        f"{step_label(step)} {kind}" + (f" “{step.name}”" if step.name else ""),
        " ".join(box.summary_lines),
        x,
        y,
        BOX_WIDTH,
        box.height,
        unit.colour,
        x + PAD,
        y + PAD,
        label_width,
        LABEL_HEIGHT,
        x + PAD + 8,
        y + PAD + 12,
        kind,
        x + BOX_WIDTH - PAD,
        y + PAD + 12,
        step.position + 1,
        name,
        summary,
    )
    if step_url is not None:
        drawn = format_html('<a class="diagram-step-link" href="{}">{}</a>', step_url(step), drawn)
    return format_html(
        '<g class="diagram-step" data-step-key="{}" data-kind="{}">{}{}</g>',
        step.key,
        step.kind,
        drawn,
        _counts_svg(box, summary_y + len(box.summary_lines) * LINE, held_url),
    )


def _counts_svg(box: Box, y: int, held_url: Callable[[Step], str] | None) -> SafeString:
    if box.figures is None:
        return SafeString("")
    waiting, held_count, passed = box.figures
    held = format_html("held {}", held_count)
    if held_count and held_url is not None:
        held = format_html(
            '<a href="{}"><tspan fill="#b91c1c" font-weight="bold">{}</tspan></a>',
            held_url(box.step),
            held,
        )
    return format_html(
        '<text class="diagram-counts" x="{}" y="{}">waiting {} · {} · passed {}</text>',
        box.x + PAD,
        y,
        waiting,
        held,
        passed,
    )


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
