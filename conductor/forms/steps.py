"""The admin form of a step: its kind's own form (``StepKindUnit.form``),
bound to the thread a new step goes to."""

from __future__ import annotations

from conductor.forms.base import StepForm
from conductor.models import Thread
from conductor.steps.registry import unit_for


def step_form_for(kind: str, thread: Thread | None) -> type[StepForm]:
    """The form class for a step of ``kind``; ``thread`` is where a new one goes."""
    base = unit_for(kind).form
    if base is None:
        raise LookupError(f"Steps of kind {kind!r} have no admin form.")
    return type(base.__name__, (base,), {"kind": kind, "thread": thread})
