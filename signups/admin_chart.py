"""The chart of a point's signups per day (``signups.reports.daily_signups``),
drawn as the conversation report draws its charts (``conductor.report_charts``):
SVG built on the server, no script and no chart library, every figure written
in the drawing, and a ``<title>`` and ``<desc>`` saying the same for screen
readers. Colours are classes styled by ``signups/admin.css``.

Two bands share the days: people, a bar per day stacked by outcome; and
below, the bots refused, on a scale of their own.
"""

from __future__ import annotations

import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from conductor.report_charts import compact, day_labels
from signups.reports import BOTS, PEOPLE, SHORT, Daily, Day

LEFT, DAY_WIDTH, RIGHT, TOP = 96, 24, 96, 6
PEOPLE_BAND, BOTS_BAND = 120, 56


def outcome_class(outcome: str) -> str:
    """The CSS class of an outcome's colour (the chart's and the legend's)."""
    return f"sp-{outcome.replace('_', '-')}"


def daily_chart(daily: Daily, *, ident: str) -> SafeString:
    """People's signups and the bots refused, day by day."""
    count = len(daily.days)
    width = LEFT + count * DAY_WIDTH + RIGHT
    bottom = TOP + PEOPLE_BAND + BOTS_BAND
    parts: list[SafeString] = []
    for column, day in enumerate(daily.days):
        if day.day.weekday() >= 5:
            parts.append(
                format_html(
                    '<rect class="sp-weekend" x="{}" y="{}" width="{}" height="{}"/>',
                    LEFT + column * DAY_WIDTH,
                    TOP,
                    DAY_WIDTH,
                    bottom - TOP,
                )
            )
    parts.append(_band(daily, PEOPLE, TOP, PEOPLE_BAND, "People", "signups", daily.people))
    parts.append(_band(daily, BOTS, TOP + PEOPLE_BAND, BOTS_BAND, "Bots", "refused", daily.bots))
    parts.append(_day_labels(daily, bottom))
    first, last = daily.days[0].day, daily.days[-1].day
    said = ", ".join(f"{daily.totals[o]:,} {SHORT[o].lower()}" for o in PEOPLE)
    bots = ", ".join(f"{daily.totals[o]:,} {SHORT[o].lower()}" for o in BOTS)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="sp-chart" role="img" '
        'aria-labelledby="{}-title {}-desc" viewBox="0 0 {} {}" width="{}" height="{}" '
        'font-size="12"><title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        ident,
        ident,
        width,
        bottom + 40,
        width,
        bottom + 40,
        ident,
        f"Signups per day, {_day(first)} to {_day(last)}",
        ident,
        f"Days in {daily.zone}. Over these {count} days, {daily.people:,} signups of people "
        f"({said}) and {daily.bots:,} posts refused as bots ({bots}).",
        mark_safe("".join(parts)),  # each part was built with format_html
    )


def _band(
    daily: Daily,
    outcomes: tuple[str, ...],
    top: int,
    height: int,
    label: str,
    unit: str,
    total: int,
) -> SafeString:
    base = top + height - 12
    tallest = height - 30
    highest = max((_sum(day, outcomes) for day in daily.days), default=0)
    parts = [
        format_html(
            '<text x="0" y="{}" font-weight="bold">{}</text>'
            '<text x="0" y="{}" class="sp-muted sp-small">{} a day</text>'
            '<line class="sp-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            base - 16,
            label,
            base - 2,
            unit,
            LEFT,
            base + 0.5,
            LEFT + len(daily.days) * DAY_WIDTH,
            base + 0.5,
        )
    ]
    for column, day in enumerate(daily.days):
        value = _sum(day, outcomes)
        if not value:
            continue
        x = LEFT + column * DAY_WIDTH
        tall = max(round(tallest * value / highest), 2)
        said = "; ".join(f"{SHORT[o]} {day.counts[o]:,}" for o in outcomes if day.counts[o])
        stack: list[SafeString] = []
        y = float(base)
        for outcome in outcomes:
            n = day.counts[outcome]
            if not n:
                continue
            piece = tall * n / value
            y -= piece
            stack.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>',
                    outcome_class(outcome),
                    x + 4,
                    f"{y:.1f}",
                    DAY_WIDTH - 8,
                    f"{piece:.1f}",
                )
            )
        parts.append(
            format_html(
                "<g><title>{}: {} {} ({})</title>{}"
                '<text x="{}" y="{}" text-anchor="middle" class="sp-value">{}</text></g>',
                _day(day.day),
                f"{value:,}",
                unit,
                said,
                mark_safe("".join(stack)),  # each part was built with format_html
                x + DAY_WIDTH // 2,
                base - tall - 3,
                compact(value),
            )
        )
    end = LEFT + len(daily.days) * DAY_WIDTH + RIGHT
    parts.append(
        format_html(
            '<text x="{}" y="{}" text-anchor="end" font-weight="bold" font-size="14">{}</text>'
            '<text x="{}" y="{}" text-anchor="end" class="sp-muted sp-small">{}</text>',
            end,
            base - 16,
            f"{total:,}",
            end,
            base - 2,
            f"{unit}, {len(daily.days)} days",
        )
    )
    return mark_safe("".join(parts))  # each part was built with format_html


def _sum(day: Day, outcomes: tuple[str, ...]) -> int:
    return sum(day.counts[o] for o in outcomes)


def _day_labels(daily: Daily, bottom: int) -> SafeString:
    return day_labels([day.day for day in daily.days], bottom, left=LEFT, css="sp")


def _day(day: datetime.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
