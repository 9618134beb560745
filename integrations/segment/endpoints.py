"""Where Segment messages may be sent.

An integration's endpoint is where workers and the admin's test identify post
the outbox, with the write key. Left open, whoever may edit an integration
could have the server reach any host it can, its own network included
(server-side request forgery). So an endpoint must be an origin allowed by
``SEGMENT_ALLOWED_HOSTS``: by default ``https`` on Segment's own hosts, or
the proxies an operator lists. It is checked where an endpoint is entered
(admin, services, command) and again before each delivery, since the setting
may change after an endpoint was saved.
"""

from __future__ import annotations

from django.conf import settings

from config.origins import origin


class EndpointNotAllowed(ValueError):
    """An endpoint that is not an allowed origin; the message names it and
    lists the allowed ones."""


def allowed_origins() -> list[str]:
    """The origins an endpoint may have, read now (tests change the setting)."""
    return [origin(entry, bare_host=True) for entry in settings.SEGMENT_ALLOWED_HOSTS]


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` as its origin (no trailing slash) when that origin is
    allowed; else EndpointNotAllowed naming it, why, and what is allowed."""
    allowed = allowed_origins()
    try:
        wanted = origin(endpoint)
    except ValueError as error:
        raise _refusal(endpoint, str(error), allowed) from None
    if wanted not in allowed:
        raise _refusal(endpoint, "it is not one of the allowed origins", allowed)
    return wanted


def _refusal(endpoint: str, reason: str, allowed: list[str]) -> EndpointNotAllowed:
    return EndpointNotAllowed(
        f"Endpoint {endpoint} is not allowed: {reason}. Allowed: {', '.join(allowed)}. "
        "To send through a proxy, set SEGMENT_ALLOWED_HOSTS."
    )
