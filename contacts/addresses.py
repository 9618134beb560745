"""Email addresses: the one normalisation every lookup and write goes through.

The rule is a single regular expression, written so that Python's ``re`` and
PostgreSQL's ``~`` read it the same way: imports check addresses in SQL, the
services in Python, and both must agree on every address.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

MAX_LENGTH = 254
MAX_LOCAL_LENGTH = 64
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
#: A lower-case address: a dot-atom local part, then a domain of labels ending
#: in a top-level domain (letters, or an xn-- name). No bounded repetitions:
#: PostgreSQL's engine expands them into large automata and slows to a crawl.
ADDRESS_PATTERN = rf"^{_ATOM}(\.{_ATOM})*@({_LABEL}\.)+([a-z][a-z]+|xn--[a-z0-9-]+)$"
_ADDRESS = re.compile(ADDRESS_PATTERN)
#: Characters trimmed from both ends of any imported or submitted value.
WHITESPACE = " \t\r\n\f\v"


def normalise_email(raw: object) -> str:
    """Return the address trimmed and in lower case, or raise ValidationError
    naming it. Addresses are case-insensitive keys within a list."""
    if not isinstance(raw, str):
        raise ValidationError(
            "An email address must be text, not %(type)s.",
            code="ERROR_INVALID_PARAMETER",
            params={"type": type(raw).__name__},
        )
    email = raw.strip(WHITESPACE).lower()
    if not email:
        raise ValidationError("The email address is empty.", code="ERROR_INVALID_PARAMETER")
    if len(email) > MAX_LENGTH:
        raise ValidationError(
            "The email address '%(email)s' is longer than 254 characters.",
            code="ERROR_INVALID_PARAMETER",
            params={"email": email[:40] + "…"},
        )
    if not _ADDRESS.match(email) or email.index("@") > MAX_LOCAL_LENGTH:
        raise ValidationError(
            "'%(email)s' is not a valid email address.",
            code="ERROR_INVALID_PARAMETER",
            params={"email": raw.strip(WHITESPACE)},
        )
    return email
