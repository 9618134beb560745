"""Signed tokens for the URLs in sent messages.

A token is the ids it names (a delivery, and for a click one link of its
message) and a MAC over them: HMAC-SHA256 with a key derived from
``SECRET_KEY`` and the kind of URL, truncated to 128 bits. A token of one
kind is no good as another, and any change to it is refused. Tokens made
with a key in ``SECRET_KEY_FALLBACKS`` still read, so rotating the secret
does not break the links of emails already sent.

Hand-rolled rather than ``django.core.signing`` because every email carries
seven of them: this is a few microseconds each, Django's signer some fifty.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac  # compare_digest

from django.conf import settings

KINDS = frozenset({"open", "click", "view", "share", "unsubscribe"})


def make_token(kind: str, delivery_id: int, link_id: int | None = None) -> str:
    body = str(delivery_id) if link_id is None else f"{delivery_id}-{link_id}"
    return f"{body}.{_mac(_key(kind, settings.SECRET_KEY), body)}"


def read_token(kind: str, token: str) -> list[int] | None:
    """The ids a token carries, or None when it is not a valid ``kind`` token."""
    body, _, mac = token.rpartition(".")  # the MAC is base64url: it may hold "-"
    parts = body.split("-")
    if len(parts) != (2 if kind == "click" else 1) or not all(
        p.isascii() and p.isdigit() and len(p) <= 18 for p in parts
    ):
        return None
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        if hmac.compare_digest(mac, _mac(_key(kind, secret), body)):
            ids = [int(p) for p in parts]
            return ids if all(ids) else None
    return None


@functools.lru_cache(maxsize=64)
def _key(kind: str, secret: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """HMAC-SHA256's inner and outer hashes with the key already absorbed
    (RFC 2104): each MAC then costs two hash copies, not a key schedule."""
    if kind not in KINDS:
        raise ValueError(f"unknown tracking token kind {kind!r}")
    key = hashlib.sha256(f"emails.tracking.{kind}:{secret}".encode()).digest().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def _mac(key: tuple[hashlib._Hash, hashlib._Hash], body: str) -> str:
    inner, outer = key[0].copy(), key[1].copy()
    inner.update(body.encode())
    outer.update(inner.digest())
    return base64.urlsafe_b64encode(outer.digest()[:16]).rstrip(b"=").decode()
