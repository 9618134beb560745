"""The lease every claim of background work holds: a worker that stops
leaves its claim to others once the lease runs out."""

from __future__ import annotations

import datetime

from django.conf import settings


def lease() -> datetime.timedelta:
    """How long a claim holds (``CONDUCTOR_LEASE_SECONDS``)."""
    return datetime.timedelta(seconds=settings.CONDUCTOR_LEASE_SECONDS)
