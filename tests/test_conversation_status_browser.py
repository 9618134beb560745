"""A person in a real browser pauses a conversation from its page: a
contact whose Wait has ended does not move while it is paused, and moves
once the conversation is resumed."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import Enrollment, EnrollmentState, StepKind, StepRun
from conductor.versions import publish
from contacts.services import subscribe_contact
from tests.browser import log_in
from tests.factories import conversation_with_steps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pause_from_the_page_holds_a_due_contact_until_resumed(live_server, browser_page, shop):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    conversation, _ = conversation_with_steps(
        shop,
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        (StepKind.TERMINATE, {}),
        name="Welcome",
    )
    version = publish(conversation)
    wait = version.steps.get(kind=StepKind.WAIT)
    waiting_cell = f".field-published_step_counts tr[data-step='{wait.pk}'] td.waiting"
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    run_due()  # into the Wait, for a day
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/conductor/conversation/{conversation.pk}/change/")
    assert "New contacts enter by its triggers" in page.inner_text(".field-status_meaning")

    page.click("#pause-button")
    page.wait_for_selector(".messagelist .success")
    assert "Paused “Welcome”" in page.inner_text(".messagelist")
    status = page.inner_text(".field-status_meaning")
    assert "Paused" in status and "they go on when it is resumed" in status
    assert page.is_visible("#resume-button") and page.is_visible("#close-button")
    assert not page.is_visible("#pause-button")

    # The contact's Wait ends while the conversation is paused: it stays.
    due = timezone.now() - datetime.timedelta(minutes=1)
    Enrollment.objects.update(due_at=due)
    assert run_due() == 0
    enrollment = Enrollment.objects.get()
    assert (enrollment.step.kind, enrollment.due_at) == (StepKind.WAIT, due)
    page.reload()
    assert page.inner_text(waiting_cell) == "1"

    page.click("#resume-button")
    page.wait_for_selector(".messagelist .success")
    assert "Resumed “Welcome”" in page.inner_text(".messagelist")
    assert page.is_visible("#pause-button")
    assert run_due() == 2  # the ended Wait, then the Terminate
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED
    assert StepRun.objects.filter(step__kind=StepKind.TERMINATE).count() == 1
    page.reload()
    assert page.inner_text(waiting_cell) == "0"
