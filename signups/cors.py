"""Which origins may post to a point across origins: those the point allows.

django-cors-headers asks this (its ``check_request_enabled`` signal) for
every request on the signup paths (``CORS_URLS_REGEX``), preflights included;
no origin is allowed anywhere else.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

from signups.models import SubscriptionPoint

_POINT_PATH = re.compile(r"^/s/(?P<key>[A-Za-z0-9_-]+)/")


def origin_allowed(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    match = _POINT_PATH.match(request.path)
    origin = request.headers.get("origin")
    if match is None or not origin:
        return False
    allowed = (
        SubscriptionPoint.objects.filter(key=match["key"], is_active=True)
        .values_list("allowed_origins", flat=True)
        .first()
    )
    return allowed is not None and origin.lower().rstrip("/") in allowed.split()
