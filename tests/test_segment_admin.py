"""Segment integrations in the admin: the write key entered once and shown
masked, synced lists, the delivery figures and the actions."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from integrations.models import (
    SHARDS,
    MessageStatus,
    SegmentIntegration,
    SegmentListSync,
    SegmentMessage,
    SegmentShard,
)
from integrations.segment.services import TEST_ADDRESS
from tests.factories import ContactFactory, ListFactory, ProfileFieldFactory
from tests.segment_server import (
    WRITE_KEY,
    Reply,
    SegmentServer,
    make_integration,
    serving,
    speed_up,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)


CHANGELIST = "/admin/integrations/segmentintegration/"
MASKED = "••••WXYZ"


@pytest.fixture
def segment_server(settings) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2 runs a queued task at once, in this process (its sync mode)."""
    from django_q.conf import Conf

    from integrations.segment import queueing

    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(queueing, "QUEUE_INTERVAL", 0.05)
    monkeypatch.setattr(queueing, "_queued_at", 0.0)


def form_data(integration=None, *, syncs=(), **fields) -> dict[str, object]:
    """The change form's POST: the integration's fields and its inline syncs."""
    data: dict[str, object] = {
        "name": integration.name if integration else "Production",
        "write_key": "",
        "endpoint": integration.endpoint if integration else "https://api.segment.io",
        "enabled": "on",
        "list_syncs-TOTAL_FORMS": str(len(syncs)),
        "list_syncs-INITIAL_FORMS": "0",
        "list_syncs-MIN_NUM_FORMS": "0",
        "list_syncs-MAX_NUM_FORMS": "1000",
    }
    for index, (email_list, field) in enumerate(syncs):
        data[f"list_syncs-{index}-list"] = str(email_list.pk)
        data[f"list_syncs-{index}-user_id_field"] = str(field.pk) if field else ""
    data.update(fields)
    if data.get("enabled") is False:
        del data["enabled"]
    return data


def change_url(integration) -> str:
    return f"{CHANGELIST}{integration.pk}/change/"


def test_the_write_key_is_entered_once_and_then_only_shown_masked(admin_client):
    response = admin_client.post(f"{CHANGELIST}add/", form_data(write_key=WRITE_KEY))
    assert response.status_code == 302, response.content.decode()[:2000]
    integration = SegmentIntegration.objects.get()
    assert integration.write_key == WRITE_KEY
    assert SegmentShard.objects.filter(integration=integration).count() == SHARDS
    for url in (CHANGELIST, change_url(integration)):
        page = admin_client.get(url).content.decode()
        assert WRITE_KEY not in page
        assert WRITE_KEY[:-4] not in page
        assert MASKED in page
    history = " ".join(LogEntry.objects.values_list("change_message", flat=True))
    assert WRITE_KEY not in history


def test_a_new_integration_needs_a_write_key(admin_client):
    response = admin_client.post(f"{CHANGELIST}add/", form_data())
    assert response.status_code == 200
    assert "The write key is required." in response.content.decode()
    assert not SegmentIntegration.objects.exists()


def test_leaving_the_key_blank_keeps_it_and_typing_one_replaces_it(admin_client):
    integration = make_integration("https://api.segment.io")
    response = admin_client.post(
        change_url(integration), form_data(integration, name="Renamed", write_key="")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    integration.refresh_from_db()
    assert (integration.name, integration.write_key) == ("Renamed", WRITE_KEY)

    admin_client.post(change_url(integration), form_data(integration, write_key="new-key-9876"))
    integration.refresh_from_db()
    assert integration.write_key == "new-key-9876"
    history = " ".join(LogEntry.objects.values_list("change_message", flat=True))
    assert "new-key-9876" not in history
    assert "Write key" in history


def test_adding_a_synced_list_backfills_its_contacts_through_a_worker(
    admin_client, shop, segment_server, sync_tasks, django_capture_on_commit_callbacks
):
    for n in range(3):
        ContactFactory(list=shop, email=f"p{n}@example.com")
    field = ProfileFieldFactory(list=shop, group=shop.field_groups.first(), name="Customer Id")
    integration = make_integration(segment_server.endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url(integration), form_data(integration, syncs=[(shop, field)])
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    sync = SegmentListSync.objects.get()
    assert sync.user_id_field == field
    assert sync.backfilled_at is not None
    identified = sorted(m["anonymousId"] for m in segment_server.delivered)
    assert identified == ["p0@example.com", "p1@example.com", "p2@example.com"]


def test_a_user_id_field_of_another_list_is_refused(admin_client, shop):
    other_field = ProfileFieldFactory(name="Loyalty Id")  # on a list of its own
    integration = make_integration("https://api.segment.io")
    response = admin_client.post(
        change_url(integration), form_data(integration, syncs=[(shop, other_field)])
    )
    assert response.status_code == 200
    assert "is not on this list" in response.content.decode()
    assert not SegmentListSync.objects.exists()


def test_the_admin_shows_backlog_deliveries_dead_letters_and_the_last_error(admin_client, shop):
    integration = make_integration("https://api.segment.io", shop)
    waiting = [ContactFactory(list=shop) for _ in range(3)]  # three identifies waiting
    assert SegmentMessage.objects.count() == 0  # factories write no activity
    for contact in waiting:
        SegmentMessage.objects.create(
            integration=integration, shard=0, contact_id=contact.pk, kind="identify", payload="{}"
        )
    SegmentMessage.objects.filter(pk=SegmentMessage.objects.first().pk).update(
        status=MessageStatus.DEAD,
        last_status=400,
        last_response='{"error":"invalid messageId"}',
        attempts=1,
        dead_at=timezone.now(),
    )
    SegmentShard.objects.filter(integration=integration, number=0).update(
        delivered_count=41, last_error="HTTP 503: slow down", last_error_at=timezone.now()
    )
    SegmentShard.objects.filter(integration=integration, number=1).update(delivered_count=1)

    listing = admin_client.get(CHANGELIST).content.decode()
    assert ">2<" in listing  # backlog
    assert ">42<" in listing  # delivered
    assert ">1<" in listing  # dead letters
    assert "HTTP 503: slow down" in listing
    page = admin_client.get(change_url(integration)).content.decode()
    assert "HTTP 400 Bad Request" in page  # the dead letter's answer: its status, not its body
    assert "invalid messageId" not in page
    assert "HTTP 503: slow down" in page


def test_retrying_dead_letters_puts_them_back_in_the_outbox(admin_client, shop):
    integration = make_integration("https://api.segment.io", shop)
    contact = ContactFactory(list=shop)
    SegmentMessage.objects.create(
        integration=integration,
        shard=contact.pk % SHARDS,
        contact_id=contact.pk,
        kind="identify",
        payload="{}",
        status=MessageStatus.DEAD,
        attempts=10,
        last_status=500,
    )
    response = admin_client.post(
        CHANGELIST,
        {"action": "retry_dead_letters", "_selected_action": [integration.pk]},
        follow=True,
    )
    assert "1 dead letters queued again" in response.content.decode()
    message = SegmentMessage.objects.get()
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 0)


def test_the_test_identify_action_sends_one_identify_and_reports_the_answer(
    admin_client, segment_server
):
    integration = make_integration(segment_server.endpoint)
    segment_server.script(Reply(status=200), Reply(status=401, body="bad write key"))
    action = {"action": "send_test_identify", "_selected_action": [integration.pk]}
    page = admin_client.post(CHANGELIST, action, follow=True).content.decode()
    assert "test identify, HTTP 200 OK" in page
    (request,) = segment_server.requests
    (identify,) = request.batch
    assert identify["type"] == "identify"
    assert identify["anonymousId"] == TEST_ADDRESS
    token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    page = admin_client.post(CHANGELIST, action, follow=True).content.decode()
    assert "test identify, HTTP 401 Unauthorized" in page
    assert "bad write key" not in page
    assert not SegmentMessage.objects.exists()  # not through the outbox


def test_deleting_an_integration_deletes_its_outbox(admin_client, shop):
    integration = make_integration("https://api.segment.io", shop)
    SegmentMessage.objects.create(integration=integration, shard=0, kind="identify", payload="{}")
    response = admin_client.post(f"{change_url(integration)[:-7]}delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SegmentIntegration.objects.exists()
    assert not SegmentMessage.objects.exists()
    assert ListFactory._meta.model.objects.filter(pk=shop.pk).exists()


def test_enabling_an_integration_again_backfills_its_lists(admin_client, shop):
    ContactFactory(list=shop, email="ada@example.com")
    integration = make_integration("https://api.segment.io", shop, enabled=False)
    SegmentListSync.objects.update(backfilled_at=timezone.now(), backfill_after="zzz")
    response = admin_client.post(change_url(integration), form_data(integration, enabled="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    sync = SegmentListSync.objects.get()
    assert (sync.backfilled_at, sync.backfill_after) == (None, "")
