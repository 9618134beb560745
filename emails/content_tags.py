"""Where a message's template puts a block of the content library: its
``{{ content.<key> }}`` tags, found as Django's lexer finds them (not
inside ``{% verbatim %}``), and the blocks written in their place before
the template is compiled (``emails.render``), so that a block's links are
found and tracked like the message's own.

No model here: ``emails.template_checks`` (which the models use) reads
the tags too, and ``emails.content_library`` looks the blocks up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.template.base import BLOCK_TAG_START, VARIABLE_TAG_START, tag_re

#: The merge field of the content library: ``{{ content.<key> }}``.
CONTENT = "content"
#: What a block tag holds between its braces (any word after the dot: a key
#: written in capitals is found, and refused as no block's, by the checks).
_TAG = re.compile(rf"{CONTENT}\.(\w+)")
#: Template syntax: a block is written in as it is, so it may hold none.
TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
#: What a block ending with "{" ends with once written in, so that the
#: message's next tag (``{{ profile.x }}``) stays a tag of its own.
_OPEN_BRACE = "{% templatetag openbrace %}"


@dataclass(frozen=True)
class BlockTag:
    """One ``{{ content.<key> }}`` of a template: where it is, and its key."""

    start: int
    end: int
    key: str

    def line(self, source: str) -> int:
        return source.count("\n", 0, self.start) + 1


def block_tags(source: str) -> list[BlockTag]:
    """The ``{{ content.<key> }}`` tags of the template ``source``, in order:
    each variable tag holding exactly ``content.<key>`` (no filter), outside
    ``{% verbatim %}``, as ``django.template.base.Lexer`` reads them."""
    found: list[BlockTag] = []
    verbatim = ""  # the tag that ends the {% verbatim %} being read
    for match in tag_re.finditer(source):
        token = match[0]
        inside = token[2:-2].strip()
        if token.startswith(BLOCK_TAG_START):
            if verbatim:
                verbatim = "" if inside == verbatim else verbatim
            elif inside[:9] in ("verbatim", "verbatim "):
                verbatim = f"end{inside}"
        elif (
            not verbatim
            and token.startswith(VARIABLE_TAG_START)
            and (tagged := _TAG.fullmatch(inside))
        ):
            found.append(BlockTag(match.start(), match.end(), tagged[1]))
    return found


def keys_in(*sources: str) -> set[str]:
    """The keys of the blocks these templates put in."""
    return {tag.key for source in sources for tag in block_tags(source)}


def written_in(source: str, contents: Mapping[str, str]) -> str:
    """``source`` with each ``{{ content.<key> }}`` replaced by
    ``contents[key]`` (a KeyError when one is missing). A content holds no
    template syntax (``content_library.block_problems``), so it compiles as
    plain text."""
    parts: list[str] = []
    at = 0
    for tag in block_tags(source):
        content = contents[tag.key]
        if content.endswith("{"):
            content = content[:-1] + _OPEN_BRACE
        parts += [source[at : tag.start], content]
        at = tag.end
    return "".join([*parts, source[at:]])
