"""A claimed group of enrollments at one step, with what its unit needs."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from conductor.models import Enrollment, Step, StepRun, Version
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
    #: This visit's run of each enrollment (by enrollment id), not yet saved:
    #: the runner writes the batch's runs together at its end.
    pending: dict[int, StepRun]
    steps: VersionSteps
    now: datetime.datetime
    saved: bool = field(default=False, init=False)

    @cached_property
    def runs(self) -> dict[int, StepRun]:
        """The runs, saved now: for a unit whose rows refer to them (a
        delivery, a coupon)."""
        create_rows(list(self.pending.values()))
        self.saved = True
        return self.pending

    @cached_property
    def email_list(self):
        return self.enrollments[0].conversation.list

    @cached_property
    def contacts(self) -> list:
        return [e.contact for e in self.enrollments]
