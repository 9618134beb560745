"""What sending makes of a message's HTML body, once per message when its
templates are compiled (``emails.render``), never once per email: its
``<style>`` rules copied into each element's ``style`` attribute (most
email clients read only those), and the text part of a message that has
no text body of its own.

Both read the body while it is still a template. Its merge fields and tags
(``{{ profile.first_name }}``, ``{% for %}``) are set aside first and put
back unchanged after, so that no HTML parser moves or rewrites them: an
HTML parser would move a ``{% for %}`` between table rows out of the
table, and write the ``>`` of ``{% if a > b %}`` as ``&gt;``.
"""

from __future__ import annotations

import re

import css_inline
import html2text
from django.template import Template, TemplateSyntaxError
from django.template.base import tag_re

#: Placeholders of the set-aside template syntax. An HTML comment keeps its
#: place wherever it is (inside a table, a title, an attribute's value);
#: a text converter drops comments, so the text part gets plain words.
_COMMENT = "<!--@@merge-{}@@-->"
_WORD = "@@merge-{}@@"
# A comment inside <title> comes back escaped.
_COMMENT_BACK = re.compile(r"(?:<|&lt;)!--@@merge-(\d+)@@--(?:>|&gt;)")
_WORD_BACK = re.compile(r"@@merge-(\d+)@@")

_HAS_STYLE = re.compile(r"<style\b", re.IGNORECASE)
# What inlining may copy template syntax into: <style> blocks and style attributes.
_STYLES = re.compile(
    r"<style\b.*?</style\s*>|\bstyle\s*=\s*(?:\"[^\"]*\"|'[^']*')", re.IGNORECASE | re.DOTALL
)
# html2text writes a link as [its words](its address "its title").
_LINK = re.compile(r'\[([^\[\]\n]*)\]\(([^()\s]+)(?: "[^\n]*?")?\)')
# html2text marks a heading with Markdown's "#"s: a heading of the text part is its own line.
_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
_TRAILING_SPACE = re.compile(r"[ \t\xa0]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")

#: Rules of <style> blocks are copied into the elements they style; the
#: blocks stay too, for the clients that read media queries. Stylesheets
#: named by <link> are left as they are and never fetched.
_INLINER = css_inline.CSSInliner(
    keep_style_tags=True, keep_link_tags=True, load_remote_stylesheets=False
)

CANNOT_INLINE = (
    "The <style> rules cannot be copied into the elements without moving a merge field "
    "or tag written inside an element's angle brackets (as in <td {% if … %}>): "
    'put it inside an attribute\'s quotes (class="{% if … %}…{% endif %}") instead.'
)


def inline_css(source: str) -> str:
    """The HTML template ``source`` with the rules of its ``<style>`` blocks
    copied into the ``style`` attributes of the elements they match, its
    template syntax unchanged. ``source`` itself when it has no ``<style>``
    block, or when inlining it would move its template syntax (the message's
    form says why: ``inlining_problem``)."""
    inlined = _inlined(source)
    return source if inlined is None else inlined


def inlining_problem(source: str) -> str | None:
    """Why the ``<style>`` rules of the HTML template ``source`` cannot be
    inlined, or None."""
    return CANNOT_INLINE if _inlined(source) is None else None


def _inlined(source: str) -> str | None:
    if not _HAS_STYLE.search(source):
        return source
    hidden, syntax = _set_aside(source, _COMMENT)
    try:
        inlined = _INLINER.inline(hidden)
    except css_inline.InlineError:
        return None
    inlined = _COMMENT_BACK.sub(lambda m: syntax[int(m[1])], inlined)
    # Rules may copy a {{ }} of a <style> block into many style attributes;
    # everywhere else the template's syntax must be as it was, in order.
    if _syntax_outside_styles(inlined) != _syntax_outside_styles(source):
        return None
    try:
        Template(inlined)
    except TemplateSyntaxError:  # a tag of a <style> block split between elements
        return None
    return inlined


def text_from_html(source: str) -> str:
    """A text part made from the HTML template ``source``: its words, with
    each link's address after its words ("Shop now <https://…>"), headings
    on lines of their own, list items after "*", images by their alt text; its merge fields and
    tags unchanged, so the text renders as the HTML does. Tracked links
    already replaced by their placeholders stay in place as addresses."""
    hidden, syntax = _set_aside(source, _WORD)
    text = _TextPart().handle(hidden)
    text = _HEADING.sub("", _LINK.sub(_link_in_words, text))
    text = _WORD_BACK.sub(lambda m: syntax[int(m[1])], text)
    text = _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("", text))
    return text.strip() + "\n"


def _set_aside(source: str, placeholder: str) -> tuple[str, list[str]]:
    """``source`` with each piece of template syntax (as Django's template
    engine splits it) replaced by a numbered placeholder, and the pieces."""
    syntax: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        syntax.append(match[0])
        return placeholder.format(len(syntax) - 1)

    return tag_re.sub(set_aside, source), syntax


def _syntax_outside_styles(html: str) -> list[str]:
    return tag_re.findall(_STYLES.sub("", html))


def _link_in_words(match: re.Match[str]) -> str:
    # Angle brackets, as RFC 3986 (appendix C) advises for an address in text: a mail
    # client that makes it clickable takes no punctuation around it for part of it.
    words, address = match[1].strip(), match[2]
    return f"{words} <{address}>" if words and words != address else f"<{address}>"


class _TextPart(html2text.HTML2Text):
    """html2text set to write plain text to read, not Markdown to convert:
    no line wrapping (it would split a link's address), no emphasis marks,
    layout tables read row by row, characters as they are."""

    def __init__(self) -> None:
        super().__init__(bodywidth=0)
        self.ignore_emphasis = True
        self.ignore_tables = True
        self.images_to_alt = True
        self.default_image_alt = ""
        self.unicode_snob = True
        self.use_automatic_links = False
        self.inline_links = True

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        # Telling it every piece is an entity's character keeps it from escaping
        # Markdown ("1. Buy" stays "1. Buy", not "1\. Buy"): nobody converts this text.
        super().handle_data(data, entity_char=True)
