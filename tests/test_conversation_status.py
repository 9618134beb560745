"""Pausing, resuming, closing and reopening a conversation, with Listrak's
meaning: a paused one takes no new contacts and moves none inside (their
due times keep; emails already queued still go out); a closed one takes no
new contacts and lets those inside finish. From the service, the page's
buttons and the list's actions, each refused in words when impossible or
without the permission; and a pause racing real workers."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from conductor.engine.claims import any_due, claim_due
from conductor.engine.runner import run_claimed
from conductor.engine.tasks import run_due
from conductor.models import (
    Conversation,
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    StepKind,
    StepOutcome,
    StepRun,
    TriggerKind,
)
from conductor.status import close, pause, reopen, resume
from conductor.versions import create_conversation, publish
from contacts.models import Contact
from contacts.services import fire_event, subscribe_contact
from emails.models import Delivery, DeliveryStatus
from tests.factories import (
    EventFactory,
    MessageFactory,
    contacts_entering,
    conversation_with_steps,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

WAIT_A_DAY: tuple[str, dict[str, object]] = (StepKind.WAIT, {"kind": "duration", "days": 1})
TERMINATE: tuple[str, dict[str, object]] = (StepKind.TERMINATE, {})
PAUSED, PUBLISHED, CLOSED = (
    ConversationStatus.PAUSED,
    ConversationStatus.PUBLISHED,
    ConversationStatus.CLOSED,
)


def published(shop, *steps, trigger: str = TriggerKind.SUBSCRIBE, event=None) -> Conversation:
    conversation, _ = conversation_with_steps(
        shop, *steps, name="Welcome", trigger=trigger, event=event
    )
    publish(conversation)
    return conversation


def waiting_contact(shop, email: str) -> Enrollment:
    """A new subscriber run to the Wait of a Wait → Terminate conversation."""
    subscribe_contact(email_list=shop, email=email, method="API")
    run_due()
    enrollment = Enrollment.objects.select_related("step").get(contact__email=email)
    assert enrollment.step is not None and enrollment.step.kind == StepKind.WAIT
    return enrollment


def wait_ends(enrollment: Enrollment, ago: datetime.timedelta) -> datetime.datetime:
    """The contact's Wait ended ``ago``; returns its due time."""
    due = timezone.now() - ago
    Enrollment.objects.filter(pk=enrollment.pk).update(due_at=due)
    return due


def status_of(conversation: Conversation) -> str:
    return Conversation.objects.get(pk=conversation.pk).status


# --- The engine ---------------------------------------------------------------


def test_a_paused_conversation_moves_no_contact_and_resuming_moves_them(shop):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    ended = waiting_contact(shop, "ended@example.com")
    later = waiting_contact(shop, "later@example.com")
    later_due = later.due_at
    pause(conversation)
    # The first contact's Wait ends while the conversation is paused.
    ended_due = wait_ends(ended, datetime.timedelta(minutes=5))
    assert not any_due()
    assert run_due() == 0
    ended.refresh_from_db()
    assert (ended.step.kind, ended.state, ended.due_at) == (
        StepKind.WAIT,
        EnrollmentState.ACTIVE,
        ended_due,
    )

    resume(conversation)
    assert run_due() == 2  # the ended Wait, then the Terminate
    ended.refresh_from_db()
    later.refresh_from_db()
    assert ended.state == EnrollmentState.FINISHED
    # The other contact's due time was kept: it still waits for its day.
    assert (later.step.kind, later.due_at) == (StepKind.WAIT, later_due)


def test_a_paused_conversation_takes_no_new_contacts_and_counts_no_ignored_trigger(shop):
    cart = EventFactory(list=shop, name="Cart")
    conversation = published(
        shop, WAIT_A_DAY, TERMINATE, trigger=TriggerKind.EXTERNAL_EVENT, event=cart
    )
    inside = subscribe_contact(email_list=shop, email="in@example.com", method="API").contact
    outside = subscribe_contact(email_list=shop, email="out@example.com", method="API").contact
    fire_event(event=cart, contact=inside)
    pause(conversation)

    fire_event(event=cart, contact=outside)
    fire_event(event=cart, contact=inside)
    (enrollment,) = Enrollment.objects.all()
    assert enrollment.contact == inside
    # Turned away because the conversation is paused, not because it is inside.
    assert enrollment.ignored_triggers == 0

    resume(conversation)
    fire_event(event=cart, contact=outside)
    fire_event(event=cart, contact=inside)
    assert set(Enrollment.objects.values_list("contact__email", "ignored_triggers")) == {
        ("in@example.com", 1),
        ("out@example.com", 0),
    }


def test_emails_queued_before_the_pause_are_still_sent(shop, smtp_server):
    welcome = MessageFactory(list=shop, subject="Welcome aboard")
    conversation = published(shop, (StepKind.MESSAGE, {"message": welcome.pk}), TERMINATE)
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    token = claim_due(10)
    assert token is not None
    assert run_claimed(token) == 1  # the email is written, not yet sent
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    pause(conversation)

    assert run_due() == 0  # no step runs…
    (email,) = smtp_server.messages  # …but the queued email goes out
    assert email["Subject"] == "Welcome aboard"
    enrollment = Enrollment.objects.get()
    # Its contact waits at the next step until the conversation is resumed.
    assert (enrollment.step.kind, enrollment.state) == (StepKind.TERMINATE, EnrollmentState.ACTIVE)

    resume(conversation)
    assert run_due() == 1
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED
    assert len(smtp_server.messages) == 1


def test_a_claim_made_before_the_pause_moves_nothing_and_is_handed_back(shop):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    enrollment = waiting_contact(shop, "ada@example.com")
    due = wait_ends(enrollment, datetime.timedelta(minutes=1))
    token = claim_due(10)  # a worker claims…
    assert token is not None
    pause(conversation)  # …another process pauses before the worker runs its claim
    assert run_claimed(token) == 0
    enrollment.refresh_from_db()
    assert (enrollment.step.kind, enrollment.due_at, enrollment.visit) == (StepKind.WAIT, due, 1)
    assert enrollment.claim_token == ""  # handed back, not left until its lease runs out
    assert not StepRun.objects.filter(step__kind=StepKind.TERMINATE).exists()

    resume(conversation)
    assert run_due() == 2  # at once: no lease to wait for
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED


def test_other_conversations_go_on_while_one_is_paused(shop):
    paused = published(shop, WAIT_A_DAY, TERMINATE)
    other, _ = conversation_with_steps(shop, WAIT_A_DAY, TERMINATE, name="Other")
    publish(other)
    pause(paused)
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    assert Enrollment.objects.count() == 1  # the paused one took no one
    run_due()
    Enrollment.objects.update(due_at=timezone.now())
    assert run_due() == 2  # the other's Wait and Terminate
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED


def test_contacts_inside_two_conversations_move_only_in_the_one_not_paused(shop):
    paused = published(shop, WAIT_A_DAY, TERMINATE)
    other, _ = conversation_with_steps(shop, WAIT_A_DAY, TERMINATE, name="Other")
    publish(other)
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    run_due()  # into both Waits
    pause(paused)
    Enrollment.objects.update(due_at=timezone.now())
    assert run_due() == 2
    states = dict(Enrollment.objects.values_list("conversation__name", "state"))
    assert states == {"Welcome": EnrollmentState.ACTIVE, "Other": EnrollmentState.FINISHED}


def test_a_closed_conversation_takes_no_new_contacts_and_lets_those_inside_finish(shop):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    inside = waiting_contact(shop, "in@example.com")
    close(conversation)
    subscribe_contact(email_list=shop, email="late@example.com", method="API")
    assert not Enrollment.objects.filter(contact__email="late@example.com").exists()
    wait_ends(inside, datetime.timedelta(minutes=1))
    assert run_due() == 2
    inside.refresh_from_db()
    assert inside.state == EnrollmentState.FINISHED
    assert list(inside.runs.order_by("visit").values_list("outcome", flat=True)) == [
        StepOutcome.PASSED,
        StepOutcome.TERMINATED,
    ]


def test_closing_a_paused_conversation_lets_its_contacts_finish(shop):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    enrollment = waiting_contact(shop, "ada@example.com")
    pause(conversation)
    wait_ends(enrollment, datetime.timedelta(minutes=1))
    assert run_due() == 0
    close(conversation)
    assert run_due() == 2
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED


def test_reopening_a_closed_conversation_lets_new_contacts_in(shop):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    close(conversation)
    reopen(conversation)
    assert status_of(conversation) == PUBLISHED
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    assert Enrollment.objects.get().contact.email == "ada@example.com"


def test_resuming_runs_the_due_contacts_once_it_commits(shop, django_capture_on_commit_callbacks):
    conversation = published(shop, WAIT_A_DAY, TERMINATE)
    pause(conversation)

    def runs_queued() -> int:
        return sum(1 for q in OrmQ.objects.all() if q.task["name"] == "conductor-run")

    with django_capture_on_commit_callbacks(execute=True):
        resume(conversation)
    assert runs_queued() == 1
    with django_capture_on_commit_callbacks(execute=True):
        pause(conversation)  # pausing has nothing to run
    assert runs_queued() == 1


@pytest.mark.parametrize(
    ("start", "change", "refusal"),
    [
        (None, pause, "“Welcome” is not published: publish it before pausing it."),
        (PAUSED, pause, "“Welcome” is already paused."),
        (CLOSED, pause, "“Welcome” is closed: reopen it before pausing it."),
        (None, resume, "“Welcome” is not paused: it is not published yet."),
        (PUBLISHED, resume, "“Welcome” is not paused: its contacts are already moving."),
        (CLOSED, resume, "“Welcome” is closed, not paused: reopen it to let new contacts in."),
        (
            None,
            close,
            "“Welcome” is not published: no contact is inside, there is nothing to close.",
        ),
        (CLOSED, close, "“Welcome” is already closed."),
        (None, reopen, "“Welcome” is not closed: it is not published yet."),
        (PUBLISHED, reopen, "“Welcome” is not closed: it already takes new contacts."),
        (PAUSED, reopen, "“Welcome” is paused, not closed: resume it instead."),
    ],
)
def test_an_impossible_change_is_refused_in_words(shop, start, change, refusal):
    if start is None:
        conversation = create_conversation(email_list=shop, name="Welcome")
    else:
        conversation = published(shop, TERMINATE)
        Conversation.objects.filter(pk=conversation.pk).update(status=start)
    before = status_of(conversation)
    with pytest.raises(ValidationError) as refused:
        change(conversation)
    assert refused.value.messages == [refusal]
    assert status_of(conversation) == before


def test_a_stale_object_is_judged_by_the_status_in_the_database(shop):
    conversation = published(shop, TERMINATE)
    stale = Conversation.objects.get(pk=conversation.pk)
    pause(conversation)
    with pytest.raises(ValidationError, match="already paused"):
        pause(stale)


@pytest.mark.parametrize("status", [PAUSED, CLOSED])
def test_publishing_a_new_version_keeps_a_paused_or_closed_conversation_so(shop, status):
    conversation = published(shop, TERMINATE)
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    version = publish(conversation)
    assert version.number == 2
    assert status_of(conversation) == status
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    assert not Enrollment.objects.exists()


# --- The admin ----------------------------------------------------------------


def page_of(conversation: Conversation) -> str:
    return reverse("admin:conductor_conversation_change", args=[conversation.pk])


def status_url(conversation: Conversation, change: str) -> str:
    return reverse("admin:conductor_conversation_status", args=[conversation.pk, change])


def buttons_on(html: str) -> list[str]:
    return [
        name for name in ("pause", "resume", "close", "reopen") if f'id="{name}-button"' in html
    ]


EDITOR = ("conductor.view_conversation", "conductor.change_conversation")


def test_the_page_shows_the_status_its_meaning_and_the_changes_it_offers(shop):
    conversation = create_conversation(email_list=shop, name="Welcome")
    editor = staff(*EDITOR)
    html = editor.get(page_of(conversation)).content.decode()
    assert "Not published yet: no contact enters." in html
    assert buttons_on(html) == []

    conversation, _ = conversation_with_steps(shop, TERMINATE, name="Live")
    publish(conversation)
    html = editor.get(page_of(conversation)).content.decode()
    assert "New contacts enter by its triggers; contacts inside move on." in html
    assert buttons_on(html) == ["pause", "close"]

    response = editor.post(status_url(conversation, "pause"), follow=True)
    html = response.content.decode()
    assert "Paused “Live”: no new contact enters and no contact inside moves" in html
    assert "their due times keep, and they go on when it is resumed" in html
    assert buttons_on(html) == ["resume", "close"]
    assert status_of(conversation) == PAUSED

    html = editor.post(status_url(conversation, "resume"), follow=True).content.decode()
    assert "Resumed “Live”" in html
    assert status_of(conversation) == PUBLISHED

    html = editor.post(status_url(conversation, "close"), follow=True).content.decode()
    assert "Closed “Live”: no new contact enters; contacts inside finish as usual." in html
    assert buttons_on(html) == ["reopen"]
    assert status_of(conversation) == CLOSED

    html = editor.post(status_url(conversation, "reopen"), follow=True).content.decode()
    assert "Reopened “Live”: new contacts enter again." in html
    assert status_of(conversation) == PUBLISHED


def test_a_refused_change_from_the_page_says_why(shop):
    conversation = create_conversation(email_list=shop, name="Welcome")
    html = staff(*EDITOR).post(status_url(conversation, "pause"), follow=True).content.decode()
    assert "“Welcome” is not published: publish it before pausing it." in html
    assert status_of(conversation) == ConversationStatus.UNPUBLISHED


def test_status_changes_need_a_post_and_a_known_change(shop):
    conversation = published(shop, TERMINATE)
    editor = staff(*EDITOR)
    assert editor.get(status_url(conversation, "pause")).status_code == 405
    unknown = editor.post(status_url(conversation, "archive"))
    assert unknown.status_code == 404
    assert status_of(conversation) == PUBLISHED


def test_a_view_only_account_sees_no_buttons_and_is_refused(shop):
    conversation = published(shop, TERMINATE)
    viewer = staff("conductor.view_conversation")
    html = viewer.get(page_of(conversation)).content.decode()
    assert "New contacts enter by its triggers" in html  # it sees the status…
    assert buttons_on(html) == []  # …and no button to change it
    refused = viewer.post(status_url(conversation, "pause"))
    assert refused.status_code == 403
    assert "Pausing a conversation needs the permission to change conversations" in (
        refused.content.decode()
    )
    assert status_of(conversation) == PUBLISHED


def test_the_list_shows_each_status_and_changes_the_selected_ones(shop):
    live = published(shop, TERMINATE)
    draft = create_conversation(email_list=shop, name="Draft")
    changelist = reverse("admin:conductor_conversation_changelist")
    editor = staff(*EDITOR)
    html = editor.get(changelist).content.decode()
    assert 'title="New contacts enter by its triggers; contacts inside move on.">Published' in html
    assert 'title="Not published yet: no contact enters.' in html

    response = editor.post(
        changelist,
        {"action": "pause_conversations", "_selected_action": [live.pk, draft.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Paused “Welcome”" in html
    assert "“Draft” is not published: publish it before pausing it." in html
    assert (status_of(live), status_of(draft)) == (PAUSED, ConversationStatus.UNPUBLISHED)
    assert 'title="No new contact enters and no contact inside moves' in html

    for action, expected in [
        ("close_conversations", CLOSED),
        ("reopen_conversations", PUBLISHED),
        ("pause_conversations", PAUSED),
        ("resume_conversations", PUBLISHED),
    ]:
        editor.post(changelist, {"action": action, "_selected_action": [live.pk]})
        assert status_of(live) == expected, action


def test_a_view_only_account_cannot_run_the_status_actions(shop):
    live = published(shop, TERMINATE)
    viewer = staff("conductor.view_conversation")
    changelist = reverse("admin:conductor_conversation_changelist")
    assert "pause_conversations" not in viewer.get(changelist).content.decode()
    for action in ("pause_conversations", "close_conversations"):
        refused = viewer.post(changelist, {"action": action, "_selected_action": [live.pk]})
        assert refused.status_code == 403
    assert status_of(live) == PUBLISHED


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (PAUSED, "The conversation stays paused: no one enters or moves until you resume it"),
        (CLOSED, "The conversation stays closed: no new contact enters unless you reopen it"),
    ],
)
def test_publishing_from_the_page_says_a_paused_or_closed_conversation_stays_so(shop, status, says):
    conversation = published(shop, TERMINATE)
    Conversation.objects.filter(pk=conversation.pk).update(status=status)
    url = reverse("admin:conductor_conversation_publish", args=[conversation.pk])
    html = staff(*EDITOR).post(url, follow=True).content.decode()
    assert "Published version 2." in html and says in html
    assert status_of(conversation) == status


# --- A pause racing real workers ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_pause_racing_workers_stops_every_claim_but_those_already_running(shop):
    """Two workers (threads, each with its own database connection) claim
    and run contacts (a Set Value action, then a Wait) while this thread
    pauses the conversation. Each rests a moment between claims, as a
    worker sending its batch's emails does; on SQLite that is also what
    lets the pause take the write lock.

    What is asserted: a claim whose run starts after the pause has
    committed moves nothing (even one claimed before it); only claims
    already running may still finish, at most one batch per worker; and
    nothing moves after that while it is paused. Resuming moves every
    contact left, each step once."""
    count, batch, workers = 3_000, 100, 2
    points = shop.profile_fields.get(name="Points")
    conversation, _ = conversation_with_steps(
        shop,
        (StepKind.ACTION, {"action": "SetValue", "field": points.pk, "value": "1"}),
        WAIT_A_DAY,
        TERMINATE,
        name="Race",
    )
    publish(conversation)
    contacts_entering(conversation, count)
    paused = threading.Event()
    paused_at = float("inf")
    claims: list[tuple[float, int]] = []  # (when its run started, steps it ran)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                token = claim_due(batch)
                if token is None:
                    if paused.is_set():
                        return
                    time.sleep(0.005)
                    continue
                started = time.monotonic()
                claims.append((started, run_claimed(token)))
                time.sleep(0.005)
        except BaseException as error:  # reported to the test, not swallowed
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not StepRun.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    pause(conversation)
    paused_at = time.monotonic()
    moved_at_pause = StepRun.objects.count()
    paused.set()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []

    moved = StepRun.objects.count()
    assert 0 < moved_at_pause < count, "the pause came after the workers had finished"
    assert all(ran == 0 for started, ran in claims if started > paused_at)
    assert moved - moved_at_pause <= workers * batch  # the claims already running
    assert run_due() == 0  # nothing more moves while it is paused
    at_start = Enrollment.objects.filter(step__isnull=True)
    assert at_start.count() == count - moved  # the others keep their place…
    assert not at_start.exclude(state=EnrollmentState.ACTIVE).exists()
    assert not Enrollment.objects.exclude(claim_token="").exists()  # …and no claim holds them

    resume(conversation)
    run_due()
    assert StepRun.objects.count() == count  # each contact's Set Value, once
    assert Enrollment.objects.filter(step__kind=StepKind.WAIT).count() == count
    assert {c.profile.get(points.key) for c in Contact.objects.all()} == {"1"}
