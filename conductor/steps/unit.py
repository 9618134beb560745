"""The interface of a step kind, ``StepKindUnit``, and ``unit_of(step)``.

The engine, publishing, the diagram, the admin, transfer and reports ask a
step's unit (``unit_of(step)``, or ``registry.unit_for(kind)``) what they
need to know and never name a kind, so a new kind is one module defining a
unit, registered with ``conductor.steps.registry.register``.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from django.db.models import Q

from conductor.engine.outcomes import Hold, Outcome
from conductor.models import Enrollment, Step
from conductor.steps.context import Names, VersionContext, label
from conductor.steps.references import STEP, Reference, referenced
from conductor.steps.registry import find_unit

if TYPE_CHECKING:
    from conductor.engine.batch import StepBatch
    from conductor.forms.base import StepForm


class StepKindUnit(ABC):
    """Everything about one step kind. Subclasses set the attributes and
    implement ``check`` and ``run``; the other methods have the defaults of
    a step that does its work at once and passes contacts on."""

    #: The stored ``Step.kind`` and the transfer file's ``kind``: never renamed.
    kind: str
    #: How the admin, the diagram and problems name the kind ("Go To").
    label: str
    #: The admin form writing the settings (``conductor.forms.StepForm``);
    #: None: steps of the kind cannot be added or edited in the admin.
    form: ClassVar[type[StepForm] | None] = None
    #: The fill of its boxes in the diagram.
    colour: ClassVar[str] = "#f1f5f9"
    #: The settings naming other rows: transfer swaps them for names, and
    #: ``STEP`` references are the jumps publishing and the diagram follow.
    references: tuple[Reference, ...] = ()
    #: Contacts stay here until ``release_at``: a loop through the step is no
    #: busy loop, and child threads may hang off it.
    waits: ClassVar[bool] = False
    #: Every contact leaves the conversation here (steps after it need a jump).
    finishes: ClassVar[bool] = False
    #: It emails contacts: reports count its messages, and engagement with
    #: them moves a contact waiting at a later step into a child thread.
    sends_messages: ClassVar[bool] = False

    @abstractmethod
    def check(self, step: Step, context: VersionContext) -> list[str]:
        """The problems of ``step``'s settings, each starting with
        ``label(step)``; empty when the step can be published."""

    @abstractmethod
    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        """Run the step for every enrollment of ``batch`` at once (set-based):
        an outcome by enrollment id, and one left out goes to the next step."""

    def summary(self, step: Step, names: Names) -> str:
        """A few words on what the step does, for the diagram and thread pages."""
        return self.label

    def jump_targets(self, step: Step) -> list[str]:
        """The keys of the steps it may send a contact to instead of the next."""
        return [str(key) for key in referenced(step.settings, self.references, STEP) if key]

    def always_jumps(self, step: Step) -> bool:
        """Whether every contact goes to a jump target, never to the next step."""
        return False

    def falls_through(self, step: Step) -> bool:
        """Whether contacts may go on to the next step of the thread: a
        thread's last step must not, or they would leave without a Terminate."""
        return not self.finishes and not self.always_jumps(step)

    def release_at(
        self, *, step: Step, enrollment: Enrollment, now: datetime.datetime
    ) -> datetime.datetime | Hold:
        """When a contact entering the step at ``now`` is due to run it; a
        Hold when that cannot be known (the engine holds the contact)."""
        return now

    def held_for_codes(self, pool_id: int) -> Q | None:
        """The steps of this kind (a Q on Step) that hold contacts when coupon
        pool ``pool_id`` runs out of codes, so new codes resume them."""
        return None


class UnregisteredKind(StepKindUnit):
    """Stands in for a stored kind that no unit is registered for (its module
    was removed while steps of it remain): publishing refuses it, the engine
    holds contacts at it, and the admin shows it read-only."""

    def __init__(self, kind: str) -> None:
        self.kind = self.label = kind

    def check(self, step: Step, context: VersionContext) -> list[str]:
        return [f"{label(step)}: no step kind {self.kind!r} is registered."]

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        hold = Hold(f"No step kind {self.kind!r} is registered.")
        return {e.pk: hold for e in batch.enrollments}

    def summary(self, step: Step, names: Names) -> str:
        return "unknown step kind"


def unit_of(step: Step) -> StepKindUnit:
    """The unit of a stored step: its kind's, or a stand-in refusing to
    publish or run it when no unit is registered for that kind any more, so
    one stray step breaks nothing else."""
    return find_unit(step.kind) or UnregisteredKind(step.kind)
