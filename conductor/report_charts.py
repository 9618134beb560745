"""The conversation's report as a marketer looks at it: the funnel of its
main thread, its emails day by day, and each message's rates beside its
counts (``templates/admin/conductor/conversation/report.html``).

The charts are SVG built here, on the server: no script and no chart
library. Every figure is written in the drawing as text, so nothing needs
hovering, and a ``<title>`` and ``<desc>`` say the same for screen readers.
Colours come from classes styled by ``conductor/report.css``, which follows
the admin's light and dark themes. The figures are ``conductor.reports``';
the rates ``conductor.report_rates``'.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from conductor.models import Conversation
from conductor.report_rates import RATES, message_rows, money, percent, rates_legend, share
from conductor.reports import Daily, Figures, Funnel, daily_figures, funnel

# --- The funnel ---------------------------------------------------------------

LABEL_WIDTH, TRACK_WIDTH, ROW_HEIGHT, BAR_HEIGHT, NOTE_HEIGHT = 300, 330, 30, 18, 14
COUNT_END, SHARE_END = LABEL_WIDTH + TRACK_WIDTH + 64, LABEL_WIDTH + TRACK_WIDTH + 124
LONGEST_NAME = 36


def _shorten(text: str, longest: int) -> str:
    return text if len(text) <= longest else text[: longest - 1] + "…"


def funnel_svg(path: Funnel, *, ident: str) -> SafeString:
    """Entered, then each step of the main thread: a bar as long as the
    share of those who entered that passed it, the count and the share."""
    rows: list[tuple[str, str, str, int, str]] = [("", "Entered", "", path.entered, "")]
    for n, passed in enumerate(path.steps, start=1):
        step = passed.step
        note = ""
        if passed.reached_from:
            note = "Contacts also jump here from " + " and ".join(passed.reached_from)
        rows.append(
            (
                str(n),
                step.name or step.get_kind_display(),
                step.get_kind_display(),
                passed.passed,
                note,
            )
        )
    parts: list[SafeString] = []
    said: list[str] = []
    y = 4
    for number, name, kind, count, note in rows:
        fraction = share(count, path.entered)
        width = round(TRACK_WIDTH * min(fraction or 0, 1))
        if count and width < 2:
            width = 2  # a few contacts still show
        middle = y + ROW_HEIGHT // 2
        what = f"Step {number}, {name} ({kind})" if number else "Entered"
        said.append(f"{what}: {count}" + (f", {percent(fraction, decimals=0)}" if number else ""))
        label = format_html(
            '<text x="0" y="{}" class="rc-muted">{}</text><text x="24" y="{}"{}>{}{}</text>',
            middle + 4,
            number,
            middle + 4,
            SafeString("" if number else ' font-weight="bold"'),
            _shorten(name, LONGEST_NAME),
            format_html('<tspan class="rc-muted"> · {}</tspan>', kind)
            if kind and kind != name
            else "",
        )
        parts.append(
            format_html(
                '<g class="rc-funnel-row"><title>{}</title>{}'
                '<rect class="rc-track" x="{}" y="{}" width="{}" height="{}" rx="3"/>'
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="3"/>'
                '<text x="{}" y="{}" text-anchor="end" font-weight="bold">{}</text>'
                '<text x="{}" y="{}" text-anchor="end" class="rc-muted">{}</text>{}</g>',
                said[-1] + (f". {note}." if note else ""),
                label,
                LABEL_WIDTH,
                middle - BAR_HEIGHT // 2,
                TRACK_WIDTH,
                BAR_HEIGHT,
                "rc-bar rc-step" if number else "rc-bar rc-entered",
                LABEL_WIDTH,
                middle - BAR_HEIGHT // 2,
                width,
                BAR_HEIGHT,
                COUNT_END,
                middle + 4,
                f"{count:,}",
                SHARE_END,
                middle + 4,
                percent(fraction, decimals=0) if number else ("100%" if count else "—"),
                format_html('<text x="24" y="{}" class="rc-note">{}</text>', middle + 18, note)
                if note
                else "",
            )
        )
        y += ROW_HEIGHT + (NOTE_HEIGHT if note else 0)
    return _svg(
        chart="funnel",
        ident=ident,
        title="Contacts who passed each step",
        desc=". ".join(said) + ". Shares are of the contacts who entered.",
        width=SHARE_END + 8,
        height=y + 4,
        body=parts,
    )


# --- Day by day ---------------------------------------------------------------


def compact(value: float) -> str:
    """A figure short enough for a day's column: 7, 733, 1.2k, 15k."""
    if 0 < value < 1:
        return "<1"
    if value < 1000:
        return f"{round(value):,}"
    if value < 10_000:
        return f"{value / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    if value < 1_000_000:
        return f"{round(value / 1000)}k"
    return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


@dataclass(frozen=True)
class Series:
    figure: str
    label: str
    unit: str  # what a day's figure counts
    total_unit: str  # what the period's figure counts
    words: str  # "36 emails sent"


SERIES = [
    Series("sent", "Sent", "emails", "emails", "emails sent"),
    Series("opened", "Opened", "contacts a day", "contacts", "contacts opened an email"),
    Series("clicked", "Clicked", "contacts a day", "contacts", "contacts clicked a link"),
    Series("converted", "Converted", "purchases", "purchases", "purchases"),
    Series("revenue", "Revenue", "order totals", "order totals", "in orders"),
]
LEFT, DAY_WIDTH, RIGHT, BAND, TALLEST, TOP = 100, 24, 104, 60, 30, 6


def _figure(figures: Figures, series: Series) -> float:
    return getattr(figures, series.figure)


def _in_full(value: float, series: Series) -> str:
    return money(value) if series.figure == "revenue" else f"{value:,}"


def daily_svg(daily: Daily, *, ident: str) -> SafeString:
    """A band per series (each with its own scale), a column per day: its
    bar and its figure; the period's total at the end of the band."""
    count = len(daily.days)
    width = LEFT + count * DAY_WIDTH + RIGHT
    bottom = TOP + len(SERIES) * BAND
    parts: list[SafeString] = []
    for column, (day, _) in enumerate(daily.days):
        x = LEFT + column * DAY_WIDTH
        if day.weekday() >= 5:
            parts.append(
                format_html(
                    '<rect class="rc-weekend" x="{}" y="{}" width="{}" height="{}"/>',
                    x,
                    TOP,
                    DAY_WIDTH,
                    bottom - TOP,
                )
            )
    for band, series in enumerate(SERIES):
        parts.append(_band(daily, series, TOP + band * BAND))
    parts.append(_day_labels(daily, bottom))
    first, last = daily.days[0][0], daily.days[-1][0]
    said = ", ".join(
        f"{_in_full(_figure(daily.total, series), series)} {series.words}" for series in SERIES
    )
    return _svg(
        chart="daily",
        ident=ident,
        title=f"The conversation's emails per day, {_day(first)} to {_day(last)}",
        desc=(
            f"Days in {daily.zone}. Over these {count} days: {said}. Opened and clicked count "
            "each contact once a day, and once in the total."
        ),
        width=width,
        height=bottom + 40,
        body=parts,
    )


def _band(daily: Daily, series: Series, top: int) -> SafeString:
    base = top + BAND - 12
    highest = max((_figure(figures, series) for _, figures in daily.days), default=0)
    parts = [
        format_html(
            '<text x="0" y="{}" font-weight="bold">{}</text>'
            '<text x="0" y="{}" class="rc-muted rc-small">{}</text>'
            '<line class="rc-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            base - 16,
            series.label,
            base - 2,
            series.unit,
            LEFT,
            base + 0.5,
            LEFT + len(daily.days) * DAY_WIDTH,
            base + 0.5,
        )
    ]
    for column, (day, figures) in enumerate(daily.days):
        value = _figure(figures, series)
        if not value:
            continue
        x = LEFT + column * DAY_WIDTH
        tall = max(round(TALLEST * value / highest), 2)
        parts.append(
            format_html(
                "<g><title>{}: {} {}</title>"
                '<rect class="rc-bar rc-{}" x="{}" y="{}" width="{}" height="{}" rx="2"/>'
                '<text x="{}" y="{}" text-anchor="middle" class="rc-value">{}</text></g>',
                _day(day),
                _in_full(value, series),
                series.words,
                series.figure,
                x + 4,
                base - tall,
                DAY_WIDTH - 8,
                tall,
                x + DAY_WIDTH // 2,
                base - tall - 3,
                compact(value),
            )
        )
    end = LEFT + len(daily.days) * DAY_WIDTH + RIGHT
    parts.append(
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-weight="bold" font-size="14">{}</text>'
            '<text x="{}" y="{}" text-anchor="end" class="rc-muted rc-small">{}</text>',
            end,
            base - 16,
            _in_full(_figure(daily.total, series), series),
            end,
            base - 2,
            f"{series.total_unit}, {len(daily.days)} days",
        )
    )
    return mark_safe("".join(parts))  # each part was built with format_html


def _day_labels(daily: Daily, bottom: int) -> SafeString:
    return day_labels([day for day, _ in daily.days], bottom)


def day_labels(
    days: Sequence[datetime.date], bottom: int, *, left: int = LEFT, css: str = "rc"
) -> SafeString:
    """The axis under a chart of one column a day (``DAY_WIDTH`` wide from
    ``left``): each day's number, the month under the first column and under
    each first of a month, and "Today" under the last. ``css`` prefixes the
    classes (``rc-small``, ``rc-today``, ``rc-muted``)."""
    parts = []
    for column, day in enumerate(days):
        x = left + column * DAY_WIDTH + DAY_WIDTH // 2
        today = column == len(days) - 1
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="{}-small{}">{}</text>',
                x,
                bottom + 4,
                css,
                f" {css}-today" if today else f" {css}-muted",
                day.day,
            )
        )
        if column == 0 or day.day == 1 or today:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="{}" class="{}-small{}">{}</text>',
                    x + (DAY_WIDTH // 2 if today else -DAY_WIDTH // 2 + 2),
                    bottom + 20,
                    "end" if today else "start",
                    css,
                    f" {css}-today" if today else f" {css}-muted",
                    "Today" if today else f"{day:%b}",
                )
            )
    return mark_safe("".join(parts))  # each part was built with format_html


def _day(day: datetime.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _svg(
    *,
    chart: str,
    ident: str,
    title: str,
    desc: str,
    width: int,
    height: int,
    body: list[SafeString],
) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="rc-chart rc-{}" role="img" '
        'aria-labelledby="{}-title {}-desc" viewBox="0 0 {} {}" width="{}" height="{}" '
        'font-size="12"><title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        chart,
        ident,
        ident,
        width,
        height,
        width,
        height,
        ident,
        title,
        ident,
        desc,
        mark_safe("".join(body)),  # each part was built with format_html
    )


# --- The report ---------------------------------------------------------------


def report_context(conversation: Conversation) -> dict[str, Any]:
    """What ``report.html`` shows of ``conversation``, as its ``report``."""
    path = funnel(conversation)
    daily = daily_figures(conversation)
    ident = f"conversation-{conversation.pk}-report"
    return {
        "funnel": path,
        "funnel_svg": funnel_svg(path, ident=f"{ident}-funnel"),
        "daily": daily,
        "daily_svg": daily_svg(daily, ident=f"{ident}-daily"),
        "series": SERIES,
        "days": [
            (_day(day), [_in_full(_figure(figures, s), s) for s in SERIES])
            for day, figures in reversed(daily.days)
        ],
        "messages": message_rows(conversation),
        "rates": RATES,
        "rates_legend": rates_legend(),
    }
