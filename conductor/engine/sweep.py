"""The ``conductor`` schedule (every minute): contacts whose email ended
without word, Waits that ended, contacts whose task was lost, emails not
yet sent."""

from __future__ import annotations

from conductor.engine.email_outcomes import settle_stranded
from conductor.engine.tasks import run_due


def sweep() -> int:
    """Settle stranded contacts, then advance what is due; returns how many
    step visits ran."""
    settle_stranded()
    return run_due(spread=True)
