"""A claimed group of enrollments at one step, with what its unit needs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from conductor.models import Enrollment, Step, StepOutcome, StepRun, Version
from core.bulk import create_rows


class VersionSteps:
    """A version's steps loaded once: by id and key, and each step's successor."""

    def __init__(self, version: Version) -> None:
        steps = list(
            Step.objects.filter(version=version)
            .select_related("thread")
            .order_by("thread_id", "position", "id")
        )
        self.by_id = {s.pk: s for s in steps}
        self.by_key = {str(s.key): s for s in steps}
        self._next: dict[int, Step | None] = {}
        self.first_of_main: Step | None = None
        for index, step in enumerate(steps):
            following = steps[index + 1] if index + 1 < len(steps) else None
            same_thread = following is not None and following.thread_id == step.thread_id
            self._next[step.pk] = following if same_thread else None
            if step.thread.is_main and self.first_of_main is None:
                self.first_of_main = step

    def next_of(self, step: Step) -> Step | None:
        return self._next.get(step.pk)


@dataclass
class StepBatch:
    step: Step
    enrollments: list[Enrollment]
    steps: VersionSteps
    now: datetime.datetime
    #: Whether this visit's runs were saved while the unit ran (``runs``).
    #: If not, the runner logs them as plain rows at the claim's end: most
    #: units never need them as objects, and a thousand model instances per
    #: step cost more than the rows' insert.
    saved: bool = field(default=False, init=False)

    @cached_property
    def runs(self) -> dict[int, StepRun]:
        """This visit's run of each enrollment (by enrollment id), saved now:
        for a unit whose rows refer to them (a delivery, a coupon). Their
        outcome is Passed until the runner learns the unit's outcomes."""
        runs = {
            e.pk: StepRun(
                enrollment=e,
                visit=e.visit,
                step=self.step,
                outcome=StepOutcome.PASSED,
                ran_at=self.now,
            )
            for e in self.enrollments
        }
        create_rows(list(runs.values()))
        self.saved = True
        return runs

    @cached_property
    def email_list(self):
        return self.enrollments[0].conversation.list

    @cached_property
    def contacts(self) -> list:
        return [e.contact for e in self.enrollments]
