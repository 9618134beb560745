"""Running claimed enrollments: the enrollments at one step run together, in
one transaction that logs each step visit once and moves each contact on."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from conductor.engine.arrival import enter
from conductor.engine.batch import StepBatch, VersionSteps
from conductor.engine.outcomes import NEXT, Finish, Hold, JumpTo, Outcome
from conductor.models import Enrollment, EnrollmentState, StepOutcome, StepRun, Version
from contacts.bulk import update_rows

logger = logging.getLogger(__name__)

#: A claimed contact may pass this many steps in one run before it waits for
#: the next one (publishing refuses loops without a Wait, so this is a guard).
MAX_ROUNDS = 100
ENROLLMENT_FIELDS = [
    "step",
    "thread",
    "visit",
    "step_entered_at",
    "due_at",
    "state",
    "held_reason",
    "finished_at",
]


def run_claimed(token: str) -> int:
    """Run every due enrollment of claim ``token`` as far as it goes now;
    returns how many step visits ran. The claim is released at the end."""
    versions: dict[int, VersionSteps] = {}
    ran = 0
    try:
        for _ in range(MAX_ROUNDS):
            due = list(
                Enrollment.objects.filter(
                    claim_token=token, state=EnrollmentState.ACTIVE, due_at__lte=timezone.now()
                ).values_list("pk", "version_id", "step_id")
            )
            if not due:
                break
            groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
            for pk, version_id, step_id in due:
                groups[(version_id, step_id)].append(pk)
            for (version_id, step_id), ids in groups.items():
                if version_id not in versions:
                    versions[version_id] = VersionSteps(Version.objects.get(pk=version_id))
                try:
                    ran += _run_group(versions[version_id], step_id, ids, token)
                except Exception as error:  # one step's failure holds its contacts, not the run
                    logger.exception("conductor: step %s failed", step_id)
                    _hold(ids, token, f"Error: {error}")
    finally:
        # Finished and held enrollments keep the spent token (no claim looks at
        # them); only those still waiting at a step are handed back.
        Enrollment.objects.filter(claim_token=token, state=EnrollmentState.ACTIVE).update(
            claim_token="", claim_expires_at=None
        )
    return ran


def _hold(ids: list[int], token: str, reason: str) -> None:
    Enrollment.objects.filter(pk__in=ids, claim_token=token).update(
        state=EnrollmentState.HELD, due_at=None, held_reason=reason[:2000]
    )


def _run_group(steps: VersionSteps, step_id: int | None, ids: list[int], token: str) -> int:
    from conductor.steps.runners import RUNNERS

    now = timezone.now()
    with transaction.atomic():
        # The claim is checked again under the row locks: a worker whose claim
        # ran out and was taken over finds nothing here and changes nothing.
        enrollments = list(
            Enrollment.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, claim_token=token, state=EnrollmentState.ACTIVE, due_at__lte=now)
            .select_related("contact", "conversation__list")
            .order_by("pk")
        )
        if not enrollments:
            return 0
        if step_id is None:  # just entered: go to the first step of the main thread
            first = steps.first_of_main
            for enrollment in enrollments:
                if first is None:
                    _finish(enrollment, now)
                else:
                    enter(enrollment, first, now, first=True)
            update_rows(enrollments, ENROLLMENT_FIELDS)
            return 0
        step = steps.by_id[step_id]
        runs = StepRun.objects.bulk_create(
            [
                StepRun(
                    enrollment=e, visit=e.visit, step=step, outcome=StepOutcome.PASSED, ran_at=now
                )
                for e in enrollments
            ]
        )
        batch = StepBatch(
            step=step,
            enrollments=enrollments,
            runs={run.enrollment_id: run for run in runs},
            steps=steps,
            now=now,
        )
        outcomes = RUNNERS[step.kind](batch)
        _apply(batch, outcomes)
    return len(enrollments)


def _finish(enrollment: Enrollment, now) -> None:
    enrollment.state = EnrollmentState.FINISHED
    enrollment.finished_at = now
    enrollment.due_at = None


def _apply(batch: StepBatch, outcomes: dict[int, Outcome]) -> None:
    changed_runs: list[StepRun] = []
    held_runs: list[int] = []
    for enrollment in batch.enrollments:
        outcome = outcomes.get(enrollment.pk, NEXT)
        run = batch.runs[enrollment.pk]
        if isinstance(outcome, Hold):
            enrollment.state = EnrollmentState.HELD
            enrollment.due_at = None
            enrollment.held_reason = outcome.reason
            held_runs.append(run.pk)  # the visit runs again when the contact resumes
            continue
        if isinstance(outcome, Finish):
            _finish(enrollment, batch.now)
            run.outcome = StepOutcome.SKIPPED if outcome.skipped else StepOutcome.TERMINATED
            run.details = {"reason": outcome.reason} if outcome.reason else {}
            changed_runs.append(run)
            continue
        target = outcome.step if isinstance(outcome, JumpTo) else batch.steps.next_of(batch.step)
        if target is None:
            _finish(enrollment, batch.now)
            continue
        enter(enrollment, target, batch.now)
    update_rows(batch.enrollments, ENROLLMENT_FIELDS)
    if changed_runs:
        update_rows(changed_runs, ["outcome", "details"])
    if held_runs:
        StepRun.objects.filter(pk__in=held_runs).delete()
