"""Compiling a template as rendering compiles it (``emails.render``: the
default engine's tags and filters), saying on which line it goes wrong and
what is wrong, in a marketer's words ("the {% if %} tag needs a condition.").
``emails.template_checks`` checks messages with it."""

from __future__ import annotations

import functools
import re

from django.template import Engine, Template
from django.template.base import NodeList


@functools.cache
def _engine() -> Engine:
    """An engine compiling as rendering's (``Template(...)``: the default
    one) does, with the same tags and filters, that also says on which line
    a template goes wrong."""
    default = Engine.get_default()
    return Engine(
        debug=True,
        libraries=default.libraries,
        builtins=[b for b in default.builtins if b not in Engine.default_builtins],
        string_if_invalid=default.string_if_invalid,
        autoescape=default.autoescape,
    )


def compiled(source: str) -> tuple[NodeList | None, tuple[int, ...], str]:
    """``source`` compiled; or None with the line and the words of its error."""
    try:
        return Template(source, engine=_engine()).nodelist, (), ""
    except Exception as error:  # any tag's own code may raise while it is read
        line = getattr(error, "template_debug", {}).get("line")
        return None, (line,) if isinstance(line, int) else (), _plain(error)


_UNEXPECTED_END_IN_IF = re.compile(r"Unexpected end of expression in if tag")
_UNCLOSED = re.compile(r"Unclosed tag on line \d+: '([^']*)'\. Looking for one of: (.*)\.")
_OUT_OF_PLACE = re.compile(r"Invalid block tag on line \d+: '([^']*)', expected (.*)\. Did you")
_UNKNOWN_TAG = re.compile(r"Invalid block tag on line \d+: '([^']*)'\.")
_EMPTY_VARIABLE = re.compile(r"Empty variable tag")
_EMPTY_TAG = re.compile(r"Empty block tag")
_UNKNOWN_FILTER = re.compile(r"Invalid filter: '([^']*)'")
_REMAINDER = re.compile(r"Could not parse the remainder: '(.*)' from '(.*)'$")
_UNKNOWN_LIBRARY = re.compile(r"'([^']*)' is not a registered tag library")
_ON_LINE = re.compile(r" on line \d+")


def _plain(error: Exception) -> str:
    """Django's words for a template error, made plainer for its commonest ones."""
    said = (str(error).splitlines() or [type(error).__name__])[0]
    if _UNEXPECTED_END_IN_IF.match(said):
        return "the {% if %} tag needs a condition."
    if m := _UNCLOSED.match(said):
        closing = m[2].split(", ")[-1]
        return f"the {{% {m[1]} %}} tag is never closed: add {{% {closing} %}}."
    if m := _OUT_OF_PLACE.match(said):
        closing = m[2].replace("'", "").split(" ")[-1]
        return f"{{% {m[1]} %}} is out of place: close the open tag first with {{% {closing} %}}."
    if m := _UNKNOWN_TAG.match(said):
        if m[1].startswith("end"):
            return f"{{% {m[1]} %}} closes nothing: no tag it could close is open here."
        return f"there is no tag {{% {m[1]} %}}."
    if _EMPTY_VARIABLE.match(said):
        return "{{ }} is empty: write a merge field between the braces."
    if _EMPTY_TAG.match(said):
        return "{% %} is empty: write a tag between the braces."
    if m := _UNKNOWN_FILTER.match(said):
        return f"there is no filter “{m[1]}”."
    if m := _REMAINDER.match(said):
        return f"“{m[2]}” cannot be read: “{m[1]}” does not belong there."
    if m := _UNKNOWN_LIBRARY.match(said):
        return f"there is no tag library “{m[1]}” to load."
    said = _ON_LINE.sub("", said)
    return said if said.endswith((".", "?", "!")) else f"{said}."
