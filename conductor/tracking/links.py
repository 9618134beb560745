"""The links of a message: found in its templates, given stable ids, and
rewritten into tracked links when an email is rendered.

Links are found in the *template* source (an ``href`` of the HTML body, a
bare ``http(s)://`` address of the text body), so a link holding merge
fields (``https://shop.example/?c={{ profile.code }}``) is one link of the
message, not one per contact. A tracked link leads to the template rendered
with the merge fields the email was sent with.

Only a link's path, query and fragment may hold merge fields: its scheme,
userinfo, host and port must be literal text of the template
(``address_problem``), checked when a message is saved and when a version
sending it is published, and again at each click (``rendered_problem``) for
links saved before that check existed. Otherwise a contact's profile value
(a last name of ``@evil.example/x`` after ``https://shop.example``) would
choose where the platform's own tracked link redirects.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from conductor.models import Message, MessageLink

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


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def is_tracked(url: str) -> bool:
    """Web addresses are tracked; ``mailto:``, anchors and the message's own
    ``{{ links.* }}`` are not."""
    return url.strip().lower().startswith(("http://", "https://"))


def links_in(message: Message) -> list[str]:
    """The tracked links of ``message``'s templates, in order, each once."""
    found = _html_links(message.html_body) + _text_links(message.text_body)
    return list(dict.fromkeys(found))


def _html_links(source: str) -> list[str]:
    return [url for m in HREF.finditer(source) if is_tracked(url := m.group(3).strip())]


def _text_links(source: str) -> list[str]:
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
    found = {"html_body": _html_links(message.html_body)}
    found["text_body"] = _text_links(message.text_body)
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


def link_ids(message: Message) -> dict[str, int]:
    """``{link as written: MessageLink id}`` for every link of ``message``,
    creating the ones not seen before (safe when two workers race: the
    unique key keeps one row per link)."""
    urls = links_in(message)
    if not urls:
        return {}
    hashes = {url_hash(url): url for url in urls}
    known = dict(
        MessageLink.objects.filter(message=message, url_hash__in=hashes).values_list(
            "url_hash", "pk"
        )
    )
    missing = [h for h in hashes if h not in known]
    if missing:
        MessageLink.objects.bulk_create(
            [MessageLink(message=message, url=hashes[h], url_hash=h) for h in missing],
            ignore_conflicts=True,
        )
        known = dict(
            MessageLink.objects.filter(message=message, url_hash__in=hashes).values_list(
                "url_hash", "pk"
            )
        )
    return {url: known[h] for h, url in hashes.items()}


def mark_html(source: str, ids: dict[str, int]) -> str:
    """``source`` with each tracked ``href`` replaced by its placeholder."""

    def replace(match: re.Match) -> str:
        url = match.group(3).strip()
        if url not in ids:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}@@conductor-link-{ids[url]}@@{quote}"

    return HREF.sub(replace, source)


def mark_text(source: str, ids: dict[str, int]) -> str:
    return TEXT_URL.sub(
        lambda m: f"@@conductor-link-{ids[m.group(0)]}@@" if m.group(0) in ids else m.group(0),
        source,
    )


def fill(rendered: str, url_of: Callable[[int], str]) -> str:
    """The rendered text with each placeholder replaced by ``url_of(link id)``."""
    return PLACEHOLDER.sub(lambda m: url_of(int(m.group(1))), rendered)
