"""The diagram's arrows, and where they run.

Boxes stand in a grid: one column per thread, rows of steps. Between two
columns is an empty gutter, between two rows an empty gap; an arrow that
must go somewhere else than straight down or straight across runs along
those (each in its own lane) and so never crosses a box. Arrows leave only
the steps that send contacts along them: the next-step arrow only when
contacts may go on (``falls_through``: never out of a Terminate or a Go To
without criteria), a jump only out of a step that jumps (a Go To), a child
thread only out of a step that waits.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils.html import format_html
from django.utils.safestring import SafeString

from conductor.models import Step, Thread
from conductor.steps.unit import unit_of

BOX_WIDTH, GUTTER = 232, 72
COLUMN = BOX_WIDTH + GUTTER
LEFT, PAD, LINE = 16, 8, 15
#: Lanes: how far apart parallel arrows run, and how many fit in a gutter.
LANE = 8
GUTTER_LANES = (GUTTER - 2 * 12) // LANE + 1
GAP_LANES = 4  # more share a gap's lowest lane, under a child thread's heading


@dataclass
class Box:
    """A step's box; x, y and height are set once the grid is known."""

    step: Step
    column: int
    row: int
    name_lines: list[str] = field(default_factory=list)
    summary_lines: list[str] = field(default_factory=list)
    counted: bool = False
    figures: tuple[int, int, int] | None = None
    x: int = 0
    y: int = 0
    height: int = 0
    ports: int = 0  # arrow ends taken on its right side

    def port(self) -> int:
        """A free height on the right side for one more arrow end."""
        offset = min(18 + 10 * self.ports, self.height - 6)
        self.ports += 1
        return self.y + offset

    @property
    def right(self) -> int:
        return self.x + BOX_WIDTH


@dataclass
class Grid:
    row_tops: list[int]
    row_heights: list[int]
    _gutter_lanes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    _gap_lanes: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def bottom(self) -> int:
        return self.row_tops[-1] + self.row_heights[-1]

    def gutter(self, column: int) -> int:
        """The x of a fresh lane in the gutter right of ``column``."""
        lane = self._gutter_lanes[column] % GUTTER_LANES
        self._gutter_lanes[column] += 1
        return LEFT + column * COLUMN + BOX_WIDTH + 12 + lane * LANE

    def gap(self, row: int) -> int:
        """The y of a fresh lane in the gap below ``row``."""
        lane = min(self._gap_lanes[row], GAP_LANES - 1)
        self._gap_lanes[row] += 1
        return self.row_tops[row] + self.row_heights[row] + 8 + lane * 6


Points = list[tuple[int, int]]


def arrows(threads: list[Thread], boxes: dict[int, Box], grid: Grid) -> list[SafeString]:
    """Every arrow of the diagram: next steps, Go To jumps, child threads."""
    parts: list[SafeString] = []
    by_thread: dict[int, list[Box]] = defaultdict(list)
    for box in sorted(boxes.values(), key=lambda b: b.row):
        by_thread[box.step.thread_id].append(box)
    for thread_boxes in by_thread.values():
        for box, following in itertools.pairwise(thread_boxes):
            if unit_of(box.step).falls_through(box.step):
                x = box.x + BOX_WIDTH // 2
                points = [(x, box.y + box.height), (x, following.y)]
                parts.append(_path("diagram-next", box.step, following.step, points))
    by_key = {str(box.step.key): box for box in boxes.values()}
    for box in boxes.values():
        for key in unit_of(box.step).jump_targets(box.step):
            target = by_key.get(key)
            if target is not None and target is not box:
                parts.append(_path("diagram-goto", box.step, target.step, _jump(box, target, grid)))
    for thread in threads:
        parent = boxes.get(thread.parent_step_id or 0)
        if parent is None or not by_thread.get(thread.pk) or not unit_of(parent.step).waits:
            continue  # only a Wait starts a child thread; publishing refuses the rest
        first = by_thread[thread.pk][0]
        parts.append(
            _path("diagram-child", parent.step, first.step, _child(parent, first, grid), thread)
        )
    return parts


def _jump(source: Box, target: Box, grid: Grid) -> Points:
    """Out of the source's right side, along gutters (and a gap to change
    column) into the target's right side."""
    start = (source.right, source.port())
    end_y = target.port()
    lane = grid.gutter(source.column)
    if source.column == target.column:
        return [start, (lane, start[1]), (lane, end_y), (target.right, end_y)]
    if target.row > source.row or source.row == 0:
        gap = grid.gap(source.row)
    else:
        gap = grid.gap(source.row - 1)
    other_lane = grid.gutter(target.column)
    return [
        start,
        (lane, start[1]),
        (lane, gap),
        (other_lane, gap),
        (other_lane, end_y),
        (target.right, end_y),
    ]


def _child(wait: Box, first: Box, grid: Grid) -> Points:
    """From the Wait's right side into the first step of its child thread:
    straight across to the next column, else down into the gap below the
    Wait's row and along it, clear of the columns in between."""
    y = wait.port()
    if (
        first.column == wait.column + 1
        and first.row == wait.row
        and y <= first.y + first.height - 6
    ):
        return [(wait.right, y), (first.x, y)]
    lane = grid.gutter(wait.column)
    gap = grid.gap(max(wait.row, first.row - 1))
    if first.column > wait.column:
        enter_x, enter_lane = first.x, grid.gutter(first.column - 1)
    else:
        enter_x, enter_lane = first.right, grid.gutter(first.column)
    enter_y = first.y + 18
    return [
        (wait.right, y),
        (lane, y),
        (lane, gap),
        (enter_lane, gap),
        (enter_lane, enter_y),
        (enter_x, enter_y),
    ]


def _path(
    kind: str, source: Step, target: Step, points: Points, thread: Thread | None = None
) -> SafeString:
    d = "M " + " L ".join(f"{x} {y}" for x, y in points)
    looks = {
        "diagram-next": 'stroke="#475569" marker-end="url(#diagram-arrow)"',
        "diagram-goto": 'stroke="#b45309" stroke-width="1.5" marker-end="url(#diagram-arrow-goto)"',
        "diagram-child": (
            'stroke="#7c3aed" stroke-width="1.5" stroke-dasharray="5 4" '
            'marker-end="url(#diagram-arrow-child)"'
        ),
    }[kind]
    if thread is not None:
        return format_html(
            '<path class="{}" data-thread="{}" data-from="{}" data-to="{}" d="{}" fill="none" '
            'stroke-linejoin="round" {}/>',
            kind,
            thread.pk,
            source.key,
            target.key,
            d,
            SafeString(looks),
        )
    return format_html(
        '<path class="{}" data-from="{}" data-to="{}" d="{}" fill="none" '
        'stroke-linejoin="round" {}/>',
        kind,
        source.key,
        target.key,
        d,
        SafeString(looks),
    )
