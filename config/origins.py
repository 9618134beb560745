"""Origins (``scheme://host[:port]``) as settings name them: parsed strictly,
so that a setting naming where the server may connect (``SEGMENT_ALLOWED_HOSTS``)
fails loudly at start on a bad entry. Standard library only: settings use it
before any app is loaded."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Segment's ingestion hosts: the default (US) and the EU region's.
SEGMENT_HOSTS = ("api.segment.io", "events.eu1.segmentapis.com")
DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS name or an IPv4 address; IPv6 addresses come bracketed (checked apart).
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def origin(text: str, *, bare_host: bool = False) -> str:
    """``scheme://host[:port]`` as its origin, the port only when not the
    scheme's default (``https://proxy.internal:8443``). With ``bare_host``, a
    lone host name means ``https`` on port 443. ValueError saying what is
    wrong when ``text`` is anything more or less than an origin."""
    if bare_host and "://" not in text:
        text = f"https://{text}"
    # urlsplit silently drops tabs and newlines: such a value is refused instead.
    if any(char.isspace() or not char.isprintable() for char in text):
        raise ValueError("it contains spaces or control characters")
    try:
        url = urlsplit(text)
    except ValueError:  # a bracketed host that is no IPv6 address
        raise ValueError("its host is not a valid host name") from None
    if url.scheme not in DEFAULT_PORTS:
        raise ValueError("it must start with https:// (or http://)")
    if not url.netloc:
        raise ValueError("it has no host")
    if "@" in url.netloc:
        raise ValueError("it must not hold a user name or password")
    if url.path not in ("", "/") or url.query or url.fragment or "?" in text or "#" in text:
        raise ValueError("it must have no path, query or fragment (…/v1/batch is added)")
    host = url.hostname or ""
    if url.netloc.startswith("["):
        host = f"[{host}]"  # an IPv6 address, which urlsplit has checked
    elif not HOST_NAME.fullmatch(host):
        raise ValueError("its host is not a valid host name")
    try:
        port = url.port
    except ValueError:
        raise ValueError("its port is not a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("its port is not a number from 1 to 65535")
    if port is None or port == DEFAULT_PORTS[url.scheme]:
        return f"{url.scheme}://{host}"
    return f"{url.scheme}://{host}:{port}"


def parse_allowed_hosts(value: str) -> list[str]:
    """``SEGMENT_ALLOWED_HOSTS``: comma-separated host names (``https``, port
    443) or origins (``https://proxy.internal:8443``, ``http://127.0.0.1:9000``),
    as origins. ValueError naming the first bad entry."""
    origins = []
    for entry in (item.strip() for item in value.split(",")):
        if not entry:
            continue
        try:
            origins.append(origin(entry, bare_host=True))
        except ValueError as error:
            raise ValueError(f"{entry!r}: {error}") from None
    if not origins:
        raise ValueError("no host given")
    return origins
