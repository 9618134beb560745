"""The links of a message: found in its templates, given stable ids, and
rewritten into tracked links when an email is rendered.

Links are found in the *template* source (an ``href`` of the HTML body, a
bare ``http(s)://`` address of the text body), so a link holding merge
fields (``https://shop.example/?c={{ profile.code }}``) is one link of the
message, not one per contact. A tracked link leads to the template rendered
with the merge fields the email was sent with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from conductor.models import Message, MessageLink

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# A bare address ends at white space, except inside a merge field's braces.
TEXT_URL = re.compile(r"""https?://(?:\{\{[^{}]*\}\}|[^\s<>"'\])])+""", re.IGNORECASE)
#: What replaces a tracked link in the source before it is rendered: plain
#: text, which Django's template engine leaves alone.
PLACEHOLDER = re.compile(r"@@conductor-link-(\d+)@@")


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def is_tracked(url: str) -> bool:
    """Web addresses are tracked; ``mailto:``, anchors and the message's own
    ``{{ links.* }}`` are not."""
    return url.strip().lower().startswith(("http://", "https://"))


def links_in(message: Message) -> list[str]:
    """The tracked links of ``message``'s templates, in order, each once."""
    found = [m.group(3).strip() for m in HREF.finditer(message.html_body)]
    found += [m.group(0) for m in TEXT_URL.finditer(message.text_body)]
    return list(dict.fromkeys(url for url in found if is_tracked(url)))


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
