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

from emails.models import Message, MessageLink
from emails.tracking.link_text import (
    HREF,
    PLACEHOLDER,
    TEXT_URL,
    href_value,
    html_links,
    text_links,
)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def links_in(message: Message) -> list[str]:
    """The tracked links of ``message``'s templates, in order, each once."""
    found = html_links(message.html_body) + text_links(message.text_body)
    return list(dict.fromkeys(found))


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
        url = href_value(match)
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
