"""Wrapping the diagram's words to a box's width. SVG text does not wrap, so
the server breaks lines by an estimate of each character's width (generous,
for DejaVu Sans, the widest common sans-serif): a line may end short of the
box, never past it, and no word is ever dropped or cut short with "…"."""

from __future__ import annotations

FONT_SIZE = 12
#: Widths in ems; any other character counts as WIDE_LETTER or LETTER.
WIDTHS = {
    **dict.fromkeys("ijl.,:;'|!", 0.3),
    **dict.fromkeys("frtI ()[]-", 0.42),
    **dict.fromkeys("mwMW—%@", 1.0),
    **dict.fromkeys("#&“”", 0.85),
}
LETTER, WIDE_LETTER, BOLD = 0.62, 0.74, 1.12


def text_width(text: str, *, bold: bool = False, size: int = FONT_SIZE) -> float:
    """An estimate of ``text``'s width in pixels, never much below the real one."""
    ems = sum(WIDTHS.get(c, WIDE_LETTER if c.isupper() else LETTER) for c in text)
    return ems * size * (BOLD if bold else 1.0)


def wrap(text: str, width: float, *, bold: bool = False) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels, broken between words;
    a word too long for a line of its own is broken inside."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, bold=bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while text_width(word, bold=bold) > width:
            cut = _longest_prefix(word, width, bold)
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def _longest_prefix(word: str, width: float, bold: bool) -> int:
    cut = 1
    while cut < len(word) and text_width(word[: cut + 1], bold=bold) <= width:
        cut += 1
    return cut
