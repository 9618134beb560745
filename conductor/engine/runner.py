"""Running claimed enrollments.

A claim runs in one transaction: its enrollments and their contacts are
locked and read once, each round runs the enrollments at one step together
(one unit call per step, set-based), and at the end every enrollment is
written once and the step-run log is inserted in one statement. A contact
passing six steps therefore costs one enrollment write, not six, and a
worker that dies anywhere leaves nothing half-done: the transaction rolls
back and the claim's lease runs out, so another worker runs it again.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from conductor.engine.arrival import enter
from conductor.engine.batch import StepBatch, VersionSteps
from conductor.engine.outcomes import NEXT, AwaitEmail, Finish, Hold, JumpTo, Outcome
from conductor.engine.step_log import StepLog
from conductor.models import (
    Conversation,
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    StepOutcome,
    Version,
)
from conductor.steps.unit import unit_of
from contacts.models import Contact
from core.bulk import update_rows

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
    "claim_token",
    "claim_expires_at",
]


def run_claimed(token: str) -> int:
    """Run every due enrollment of claim ``token`` as far as it goes now and
    hand the claim back; returns how many step visits ran."""
    versions: dict[int, VersionSteps] = {}
    log = StepLog()
    ran = 0
    with transaction.atomic():
        enrollments = _locked(token)
        for _ in range(MAX_ROUNDS):
            now = timezone.now()
            groups: dict[tuple[int, int | None], list[Enrollment]] = defaultdict(list)
            for enrollment in enrollments:
                if enrollment.state != EnrollmentState.ACTIVE:
                    continue
                assert enrollment.due_at is not None  # an active one is due (a constraint)
                if enrollment.due_at <= now:
                    groups[(enrollment.version_id, enrollment.step_id)].append(enrollment)
            if not groups:
                break
            for (version_id, step_id), group in groups.items():
                if version_id not in versions:
                    versions[version_id] = VersionSteps(Version.objects.get(pk=version_id))
                ran += _run_group(versions[version_id], step_id, group, now, log)
        log.write()
        for enrollment in enrollments:
            # Finished and held enrollments keep the spent token (no claim
            # looks at them); those waiting at a step, or for an email, are handed back.
            if enrollment.state in (EnrollmentState.ACTIVE, EnrollmentState.SENDING):
                enrollment.claim_token, enrollment.claim_expires_at = "", None
        update_rows(enrollments, ENROLLMENT_FIELDS)
    return ran


def _locked(token: str) -> list[Enrollment]:
    """The claim's enrollments with their contacts, locked. The claim is
    checked again under the locks: a worker whose claim ran out and was
    taken over finds nothing here and changes nothing. Contacts are locked
    in id order (as every profile writer does), so two workers never wait
    for each other in a circle.

    A conversation paused since the claim was made is checked here too, and
    its enrollments are handed back unchanged (their due times kept): they
    go on when it is resumed. Its status is read after the enrollments are
    locked, so a pause that committed before that read stops them; a claim
    that read it earlier is already running and finishes."""
    enrollments = list(
        Enrollment.objects.select_for_update(of=("self", "contact"))
        .filter(claim_token=token, state=EnrollmentState.ACTIVE, due_at__lte=timezone.now())
        .select_related("contact")
        .order_by("contact_id", "pk")
    )
    # One object per contact: a contact in two conversations of this claim
    # must see the profile the other just wrote. One per conversation too,
    # loaded once rather than joined to each of a thousand rows.
    contacts: dict[int, Contact] = {}
    conversations = Conversation.objects.select_related("list").in_bulk(
        {e.conversation_id for e in enrollments}
    )
    paused = {pk for pk, c in conversations.items() if c.status == ConversationStatus.PAUSED}
    if paused:
        handed_back = [e.pk for e in enrollments if e.conversation_id in paused]
        Enrollment.objects.filter(pk__in=handed_back).update(claim_token="", claim_expires_at=None)
        enrollments = [e for e in enrollments if e.conversation_id not in paused]
    for enrollment in enrollments:
        enrollment.contact = contacts.setdefault(enrollment.contact_id, enrollment.contact)
        enrollment.conversation = conversations[enrollment.conversation_id]
    return enrollments


def _run_group(
    steps: VersionSteps,
    step_id: int | None,
    enrollments: list[Enrollment],
    now: datetime.datetime,
    log: StepLog,
) -> int:
    if step_id is None:  # just entered: go to the first step of the main thread
        first = steps.first_of_main
        for enrollment in enrollments:
            if first is None:
                _finish(enrollment, now)
            else:
                enter(enrollment, first, now, first=True)
        return 0
    step = steps.by_id[step_id]
    batch = StepBatch(step=step, enrollments=enrollments, steps=steps, now=now)
    # Units write profiles into the locked contacts they are given; a failed
    # unit's writes are rolled back, and so must be the contacts in memory.
    before = {e.contact_id: (e.contact.profile, e.contact.updated_at) for e in enrollments}
    try:
        # A savepoint: one step's failure holds its contacts, not the claim.
        with transaction.atomic():
            outcomes = unit_of(step).run(batch)
    except Exception as error:
        logger.exception("conductor: step %s failed", step_id)
        for enrollment in enrollments:
            enrollment.contact.profile, enrollment.contact.updated_at = before[
                enrollment.contact_id
            ]
            _hold(enrollment, f"Error: {error}")
        return 0
    _apply(batch, outcomes, log)
    return len(enrollments)


def _hold(enrollment: Enrollment, reason: str) -> None:
    enrollment.state = EnrollmentState.HELD
    enrollment.due_at = None
    enrollment.held_reason = reason[:2000]


def _finish(enrollment: Enrollment, now: datetime.datetime) -> None:
    enrollment.state = EnrollmentState.FINISHED
    enrollment.finished_at = now
    enrollment.due_at = None


def _apply(batch: StepBatch, outcomes: dict[int, Outcome], log: StepLog) -> None:
    for enrollment in batch.enrollments:
        outcome = outcomes.get(enrollment.pk, NEXT)
        if isinstance(outcome, Hold):
            _hold(enrollment, outcome.reason)
            log.drop(batch, enrollment)
            continue
        if isinstance(outcome, Finish):
            _finish(enrollment, batch.now)
            log.record(
                batch,
                enrollment,
                StepOutcome.SKIPPED if outcome.skipped else StepOutcome.TERMINATED,
                {"reason": outcome.reason} if outcome.reason else {},
            )
            continue
        log.record(batch, enrollment)
        target = outcome.step if isinstance(outcome, JumpTo) else batch.steps.next_of(batch.step)
        if target is None:
            _finish(enrollment, batch.now)
            continue
        enter(enrollment, target, batch.now)
        if isinstance(outcome, AwaitEmail) and enrollment.state == EnrollmentState.ACTIVE:
            enrollment.state = EnrollmentState.SENDING  # the next step runs once it is sent
