"""Child threads: engaging with the message before a Wait moves a contact
waiting there into the child thread for that event; after the Wait it does
nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import ChildEvent, Enrollment, EnrollmentState, StepKind, StepRun
from conductor.versions import publish, version_problems
from contacts.models import ActivityKind
from contacts.services import subscribe_contact
from tests.factories import (
    ConversationFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    StepFactory,
    ThreadFactory,
    add_step,
    conversation_with_steps,
    main_thread,
)
from tests.tracking_helpers import (
    HTML,
    TEXT,
    html_of,
    links,
    path_of,
    publish_mailing,
    send_to,
)

pytestmark = pytest.mark.django_db

#: Each child thread writes its own number into Points, so the test sees which ran.
CHILDREN = {
    ChildEvent.OPENED: 1,
    ChildEvent.CLICKED_BROWSER: 2,
    ChildEvent.CLICKED_PASS_ALONG: 3,
    ChildEvent.CLICKED_LINK: 4,  # the personal link
    ChildEvent.CLICKED_ANY: 5,
}
PERSONAL = "https://shop.example/p?who={{ profile.first_name }}"


@pytest.fixture
def flow(shop):
    message = MessageFactory(list=shop, html_body=HTML, text_body=TEXT)
    conversation, (_, wait, _) = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": message.pk}),
        (StepKind.WAIT, {"kind": "duration", "days": 2}),
        (StepKind.TERMINATE, {}),
        name="Welcome",
    )
    points = shop.profile_fields.get(name="Points")
    for event, number in CHILDREN.items():
        link_url = PERSONAL if event == ChildEvent.CLICKED_LINK else ""
        thread = ThreadFactory(parent_step=wait, child_event=event, link_url=link_url)
        add_step(thread, StepKind.ACTION, action="SetValue", field=points.pk, value=number)
        add_step(thread, StepKind.TERMINATE)
    publish(conversation)
    return conversation


def waiting(shop, smtp_server, address="ada@example.com"):
    contact = subscribe_contact(email_list=shop, email=address, method="API").contact
    run_due()
    (email,) = [m for m in smtp_server.messages if m["To"] == address]
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.step.kind == StepKind.WAIT
    return contact, email, enrollment


def points_of(contact) -> str | None:
    contact.refresh_from_db()
    key = contact.list.profile_fields.get(name="Points").key
    return contact.profile.get(key)


def url_of(email, kind: str, index: int = 0) -> str:
    return path_of(links(html_of(email), kind)[index])


@pytest.mark.parametrize(
    ("kind", "index", "expected"),
    [
        ("o", 0, "1"),  # the pixel: opened
        ("v", 0, "2"),  # the browser link
        ("f", 0, "3"),  # the pass-along link
        ("c", 1, "4"),  # the personal link: that link's thread comes before "any link"
        ("c", 0, "5"),  # another link: clicked any link
    ],
)
def test_engagement_while_waiting_moves_the_contact_into_its_child_thread(
    shop, flow, smtp_server, client, kind, index, expected
):
    contact, email, enrollment = waiting(shop, smtp_server)
    assert client.get(url_of(email, kind, index)).status_code in (200, 302)
    enrollment.refresh_from_db()
    assert enrollment.thread.child_event in CHILDREN
    assert enrollment.due_at <= timezone.now()
    run_due()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert points_of(contact) == expected
    wait_run = StepRun.objects.get(enrollment=enrollment, step__kind=StepKind.WAIT)
    assert wait_run.details["child_thread"] == enrollment.thread_id


def test_engagement_after_the_wait_ended_does_nothing(shop, flow, smtp_server, client):
    contact, email, enrollment = waiting(shop, smtp_server)
    Enrollment.objects.filter(pk=enrollment.pk).update(due_at=timezone.now())
    run_due()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    client.get(url_of(email, "o"))
    client.get(url_of(email, "c", 1))
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED and enrollment.thread.is_main
    assert points_of(contact) is None


def test_only_the_first_engagement_moves_the_contact(shop, flow, smtp_server, client):
    contact, email, enrollment = waiting(shop, smtp_server)
    client.get(url_of(email, "o"))
    client.get(url_of(email, "c", 0))  # now in the Opened thread, no longer at the Wait
    enrollment.refresh_from_db()
    assert enrollment.thread.child_event == ChildEvent.OPENED
    run_due()
    assert points_of(contact) == "1"


def test_another_contacts_engagement_does_not_move_this_one(shop, flow, smtp_server, client):
    _, _, ada = waiting(shop, smtp_server, "ada@example.com")
    _, bob_email, _ = waiting(shop, smtp_server, "bob@example.com")
    client.get(url_of(bob_email, "o"))
    ada.refresh_from_db()
    assert ada.step.kind == StepKind.WAIT and ada.thread.is_main


def test_engagement_on_a_list_without_child_threads_reads_no_enrollment(
    shop, flow, smtp_server, client
):
    # Shop's conversation has child threads; the other list's only sends.
    other = ListFactory(name="Other")
    ProfileFieldFactory(list=other, group__list=other, name="First Name")
    publish_mailing(other)
    contact, email = send_to(other, smtp_server, "cy@example.com")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url_of(email, "o")).status_code == 200
        assert client.get(url_of(email, "c", 0)).status_code == 302
    assert not [q for q in captured.captured_queries if "conductor_enrollment" in q["sql"]]
    kinds = [ActivityKind.EMAIL_OPENED, ActivityKind.EMAIL_CLICKED]
    assert contact.activities.filter(kind__in=kinds).count() == 2


def test_a_child_thread_must_hang_off_a_wait_after_a_message(shop):
    main = main_thread(ConversationFactory(list=shop))
    wait = StepFactory(thread=main, kind=StepKind.WAIT)
    StepFactory(thread=main)
    StepFactory(thread=ThreadFactory(parent_step=wait, name="Clicked"))
    problems = version_problems(main.version)
    assert "Clicked hangs off a Wait that follows no Message step." in problems
