"""Signed tokens for the URLs in sent messages.

A token names a delivery (and, for a click, one link of its message), signed
with ``SECRET_KEY`` and a salt per kind of URL, so a token of one kind is no
good as another and any change to it is refused.
"""

from __future__ import annotations

from django.core import signing

KINDS = frozenset({"open", "click", "view", "share", "unsubscribe"})


def make_token(kind: str, delivery_id: int, link_id: int | None = None) -> str:
    value = [delivery_id] if link_id is None else [delivery_id, link_id]
    return _signer(kind).sign_object(value)


def read_token(kind: str, token: str) -> list[int] | None:
    """The ids a token carries, or None when it is not a valid ``kind`` token."""
    try:
        value = _signer(kind).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != (2 if kind == "click" else 1)
        or not all(type(part) is int and part > 0 for part in value)
    ):
        return None
    return value


def _signer(kind: str) -> signing.Signer:
    if kind not in KINDS:
        raise ValueError(f"unknown tracking token kind {kind!r}")
    return signing.Signer(salt=f"conductor.tracking.{kind}")
