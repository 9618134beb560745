"""Child threads: engagement with the message before a Wait moves a contact
waiting there into the child thread hanging off that Wait (SPEC section 4).

A child thread starts on one event (``Thread.child_event``): the message
opened, any of its links clicked, its browser or pass-along link clicked,
or one given link clicked. The engagement counts only while the contact
waits at that Wait, and only for the email of the last Message step before
it, sent to this same enrollment before it entered the Wait: once the
contact has left the Wait, the click or open does nothing.

It runs in the transaction that recorded the engagement (``contacts.hooks``):
the move is a compare-and-swap on the enrollment's step and visit, so a
worker releasing the same contact from the Wait at the same moment and this
never both win.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone

from conductor.engine.step_emails import runs_of
from conductor.engine.tasks import queue_run
from conductor.models import (
    ChildEvent,
    Enrollment,
    EnrollmentState,
    Step,
    StepOutcome,
    StepRun,
    Thread,
)
from conductor.steps.registry import sending_kinds, waiting_kinds
from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind
from emails.models import MessageLink

ENGAGEMENT = (ActivityKind.EMAIL_OPENED, ActivityKind.EMAIL_CLICKED)
#: At a Wait: due when it ends, or still waiting for the word that its email
#: was sent (an open can come before that word: the email surely went out).
WAITING = (EnrollmentState.ACTIVE, EnrollmentState.SENDING)


def events_of(activity: Activity, link_url: str | None) -> set[str]:
    """The child events an engagement activity is (``link_url``: the link
    clicked, as written in the message)."""
    if activity.kind == ActivityKind.EMAIL_OPENED:
        return {ChildEvent.OPENED}
    kind = activity.details.get("link_kind")
    if kind == "browser":
        return {ChildEvent.CLICKED_BROWSER}
    if kind == "pass_along":
        return {ChildEvent.CLICKED_PASS_ALONG}
    if kind == "link":
        return {ChildEvent.CLICKED_ANY, ChildEvent.CLICKED_LINK}
    return set()


def _same_link(thread: Thread, activity: Activity, written: str | None) -> bool:
    wanted = thread.link_url.strip()
    return wanted in {written, str(activity.details.get("link_url") or "").strip()}


@receiver(activities_recorded, dispatch_uid="conductor.enter_child_threads")
def enter_child_threads(
    sender: Any,
    activities: QuerySet[Activity],
    list_ids: frozenset[int] | None = None,
    kinds: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    if kinds is not None and kinds.isdisjoint(ENGAGEMENT):
        return
    if list_ids is not None and not _any_child_thread(list_ids):
        return  # most lists: no Wait has a child thread, so no open or click moves anyone
    engaged = [
        a
        for a in activities.filter(kind__in=ENGAGEMENT)
        if isinstance(a.details.get("delivery_id"), int)
    ]
    if not engaged:
        return
    runs = runs_of({a.details["delivery_id"] for a in engaged})
    enrollment_ids = {run.enrollment_id for run in runs.values()}
    waiting = {
        e.pk: e
        for e in Enrollment.objects.filter(
            pk__in=enrollment_ids, state__in=WAITING, step__kind__in=waiting_kinds()
        ).select_related("step")
    }
    if not waiting:
        return
    # By parent step id; looked up with an enrollment's step_id, which may be None.
    children: dict[int | None, list[Thread]] = {}
    for child in Thread.objects.filter(
        parent_step__in={e.step_id for e in waiting.values()}
    ).order_by("position", "id"):
        children.setdefault(child.parent_step_id, []).append(child)
    link_ids = {v for a in engaged if isinstance(v := a.details.get("link_id"), int)}
    links = dict(MessageLink.objects.filter(pk__in=link_ids).values_list("pk", "url"))
    moved = 0
    for activity in engaged:
        run = runs.get(activity.details["delivery_id"])
        enrollment = waiting.get(run.enrollment_id) if run else None
        if run is None or enrollment is None or not children.get(enrollment.step_id):
            continue
        if not _sent_before_this_wait(run, enrollment):
            continue
        written = links.get(activity.details.get("link_id"))
        events = events_of(activity, written)
        thread = next(
            (
                t
                for t in children[enrollment.step_id]
                if t.child_event in events
                and (t.child_event != ChildEvent.CLICKED_LINK or _same_link(t, activity, written))
            ),
            None,
        )
        if thread is not None and _move(enrollment, thread, activity):
            moved += 1
            waiting.pop(enrollment.pk)  # one move per stay at the Wait
    if moved:
        transaction.on_commit(queue_run)


def _any_child_thread(list_ids: frozenset[int]) -> bool:
    """Whether a version of a conversation of these lists has a child thread.
    Every open and click asks: one EXISTS instead of the four reads that
    look for a contact waiting at a Wait with children. A contact is only
    enrolled in conversations of its own list (``conductor.engine.entry``),
    so the activity's list is its conversation's."""
    return Thread.objects.filter(
        parent_step__isnull=False, version__conversation__list_id__in=list_ids
    ).exists()


def _sent_before_this_wait(run: StepRun, enrollment: Enrollment) -> bool:
    """The email (sent by ``run``) is of this stay's message: the last Message step before the
    Wait in its thread, run for this enrollment before it entered the Wait."""
    wait = enrollment.step
    assert wait is not None  # a waiting enrollment is at its Wait
    message_step = (
        Step.objects.filter(
            thread_id=wait.thread_id, position__lt=wait.position, kind__in=sending_kinds()
        )
        .order_by("-position")
        .values_list("pk", flat=True)
        .first()
    )
    return (
        run.step_id == message_step
        and run.enrollment_id == enrollment.pk
        and run.visit < enrollment.visit
        and run.ran_at <= enrollment.step_entered_at
    )


def _move(enrollment: Enrollment, thread: Thread, activity: Activity) -> bool:
    wait = enrollment.step
    assert wait is not None and enrollment.step_id is not None  # waiting at its Wait
    first = Step.objects.filter(thread=thread).order_by("position", "id").first()
    if first is None:
        return False
    now = timezone.now()
    # Compare-and-swap: only if the contact is still at this Wait, this visit.
    if not Enrollment.objects.filter(
        pk=enrollment.pk,
        state__in=WAITING,
        step_id=enrollment.step_id,
        visit=enrollment.visit,
    ).update(
        step=first,
        thread=thread,
        visit=enrollment.visit + 1,
        step_entered_at=now,
        due_at=now,
        state=EnrollmentState.ACTIVE,
    ):
        return False
    StepRun.objects.create(
        enrollment=enrollment,
        visit=enrollment.visit,
        step=wait,
        outcome=StepOutcome.PASSED,
        ran_at=now,
        details={"child_thread": thread.pk, "activity_id": activity.pk},
    )
    return True
