"""Reading the links of a message's templates, with no model: which links
are tracked, each link's origin, and whether its address may hold merge
fields (``address_problem``; see ``emails.tracking.links``). The models
check messages with it when they are saved."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from emails.models import Message

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# A bare address ends at white space, except inside a merge field's braces.
TEXT_URL = re.compile(r"""https?://(?:\{\{[^{}]*\}\}|[^\s<>"'\])])+""", re.IGNORECASE)
#: What replaces a tracked link in the source before it is rendered: plain
#: text, which Django's template engine leaves alone.
PLACEHOLDER = re.compile(r"@@conductor-link-(\d+)@@")
#: How Django template syntax starts: a merge field, a tag or a comment.
TEMPLATE_SYNTAX = ("{{", "{%", "{#")
# A link's authority (userinfo, host, port) ends at its first "/", "?" or "#".
_AUTHORITY_END = re.compile(r"[/?#]")
# No address holds these: browsers read "\" as "/", and drop or stop at the others.
_ODD_IN_AUTHORITY = re.compile(r"[\\\s\x00-\x1f\x7f-\x9f]")


def is_tracked(url: str) -> bool:
    """Web addresses are tracked; ``mailto:``, anchors and the message's own
    ``{{ links.* }}`` are not."""
    return url.strip().lower().startswith(("http://", "https://"))


def href_value(match: re.Match[str]) -> str:
    """The address an ``HREF`` match leads to: its attribute's value with
    HTML's character references read (``&amp;`` is ``&``), as a browser reads it."""
    return html.unescape(match.group(3).strip())


def html_links(source: str) -> list[str]:
    """The tracked links of an HTML template: its ``href`` values."""
    return [url for m in HREF.finditer(source) if is_tracked(url := href_value(m))]


def text_links(source: str) -> list[str]:
    """The links of a text template: its bare ``http(s)://`` addresses."""
    return [m.group(0) for m in TEXT_URL.finditer(source)]


def origin(url: str) -> str:
    """``scheme://authority`` of ``url``: its scheme, userinfo, host and
    port, as written."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{_AUTHORITY_END.split(rest, 1)[0]}"


def address_problem(url: str) -> str | None:
    """Why the tracked link ``url`` (as written in a template) may not be
    sent, or None: its scheme, userinfo, host and port must be literal text,
    naming a host."""
    address = origin(url)
    if any(syntax in address for syntax in TEMPLATE_SYNTAX):
        return (
            f"The link {url} takes its address from a merge field; "
            "only its path, query or fragment may use merge fields."
        )
    if _ODD_IN_AUTHORITY.search(address.partition("://")[2]):
        return f"The link {url} has spaces, backslashes or control characters in its address."
    try:
        parts = urlsplit(address)
        host, _port = parts.hostname, parts.port  # ValueError: the port is not a number
    except ValueError:
        return f"The link {url} has an address that is not valid."
    if parts.scheme.lower() not in ("http", "https") or not host:
        return f"The link {url} has no host."
    return None


def address_problems(message: Message) -> dict[str, list[str]]:
    """The ``address_problem`` of each tracked link of ``message``, by the
    field holding the link (``html_body``, ``text_body``); empty when there
    is none."""
    found = {"html_body": html_links(message.html_body)}
    found["text_body"] = text_links(message.text_body)
    problems = {
        field: list(dict.fromkeys(p for url in urls if (p := address_problem(url))))
        for field, urls in found.items()
    }
    return {field: listed for field, listed in problems.items() if listed}


def rendered_problem(written: str, rendered: str) -> str | None:
    """Why ``rendered`` (the link ``written`` rendered for one contact) may
    not be followed, or None: it must lead to exactly the scheme, userinfo,
    host and port written literally in the template. Links saved before
    ``address_problem`` was checked may still hold merge fields there."""
    problem = address_problem(written)
    if problem is None and origin(rendered) != origin(written):
        problem = f"The link {written} leads to {origin(rendered)}, not to {origin(written)}."
    return problem
