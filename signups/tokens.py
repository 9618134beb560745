"""The form's "shown at" token: how a signup proves a person took a moment.

Each form (the hosted page, the embedded form's script, the pop-up script)
carries a token signed when it was shown. A post without a valid one, or sent
sooner than ``SIGNUP_MIN_FILL_SECONDS`` after, is not taken as a person's.
"""

from __future__ import annotations

import enum
import time

from django.conf import settings
from django.core import signing

#: A form left open longer than this is shown again with a fresh token.
MAX_AGE_SECONDS = 24 * 3600


class Check(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # no token or a forged one: the form's script did not run
    TOO_FAST = "too_fast"
    EXPIRED = "expired"


def _signer(point_key: str) -> signing.Signer:
    # Per point: a token of one point is no good on another.
    return signing.Signer(salt=f"signups.shown.{point_key}")


def make_token(point_key: str, *, now: float | None = None) -> str:
    shown_at = int(1000 * (time.time() if now is None else now))
    return _signer(point_key).sign(str(shown_at))


def check_token(point_key: str, token: object, *, now: float | None = None) -> Check:
    if not isinstance(token, str) or not token:
        return Check.MISSING
    try:
        shown_at = int(_signer(point_key).unsign(token)) / 1000
    except (signing.BadSignature, ValueError):
        return Check.MISSING
    age = (time.time() if now is None else now) - shown_at
    if age > MAX_AGE_SECONDS:
        return Check.EXPIRED
    if age < settings.SIGNUP_MIN_FILL_SECONDS:
        return Check.TOO_FAST
    return Check.OK
