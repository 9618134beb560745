"""The Segment endpoint cannot be aimed anywhere (server-side request
forgery), what the server answers is never shown to staff beyond its status,
and staff who may only view integrations cannot act on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind
from integrations.models import MessageStatus, SegmentIntegration, SegmentMessage, SegmentShard
from integrations.segment.claims import claim_shard
from integrations.segment.delivery import deliver_due
from integrations.segment.services import create_integration
from tests.factories import ContactFactory
from tests.segment_server import (
    WRITE_KEY,
    Reply,
    SegmentServer,
    make_integration,
    serving,
    speed_up,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CHANGELIST = "/admin/integrations/segmentintegration/"
SEGMENT = "https://api.segment.io"
#: What a server might put in a body: staff must never see it.
SECRET_BODY = '{"internal":"metadata-token-5f3a"}'


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)


@pytest.fixture
def segment_server(settings) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


@pytest.fixture
def stranger() -> Iterator[SegmentServer]:
    """A server no setting allows: an internal host an attacker would aim at."""
    with serving() as server:
        yield server


def opens(shop, count: int) -> None:
    contact = ContactFactory.create(list=shop)
    record_activities(
        [
            Activity(
                contact=contact,
                list_id=shop.pk,
                email=contact.email,
                kind=ActivityKind.EMAIL_OPENED,
                details={"n": n},
            )
            for n in range(count)
        ]
    )


def waiting() -> list[tuple[str, int]]:
    return list(SegmentMessage.objects.values_list("status", "attempts"))


def change_url(integration) -> str:
    return f"{CHANGELIST}{integration.pk}/change/"


def staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


# --- Which endpoints are accepted ----------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "stored"),
    [
        ("https://api.segment.io", SEGMENT),
        ("https://api.segment.io/", SEGMENT),
        ("HTTPS://API.Segment.io:443", SEGMENT),
        ("https://events.eu1.segmentapis.com/", "https://events.eu1.segmentapis.com"),
    ],
)
def test_by_default_https_on_segments_own_hosts_is_accepted(endpoint, stored):
    integration = create_integration(name="Production", write_key=WRITE_KEY, endpoint=endpoint)
    assert integration.endpoint == stored


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://api.segment.io",
        "https://api.segment.io:8443",
        "https://api.segment.io/v1",
        "https://api.segment.io/?next=x",
        "https://api.segment.io#x",
        "https://user:pw@api.segment.io",
        "https://api.segment.io.attacker.example",
        "https://attacker.example/api.segment.io",
        "https://169.254.169.254",
        "http://127.0.0.1:9",
        "https://[::1]",
        "ftp://api.segment.io",
        "api.segment.io",
    ],
)
def test_any_other_endpoint_is_refused_naming_it_and_what_is_allowed(endpoint):
    with pytest.raises(ValidationError) as refused:
        create_integration(name="Production", write_key=WRITE_KEY, endpoint=endpoint)
    (message,) = refused.value.messages
    assert message.startswith(f"Endpoint {endpoint} is not allowed: ")
    assert "https://api.segment.io, https://events.eu1.segmentapis.com" in message
    assert "set SEGMENT_ALLOWED_HOSTS" in message
    assert not SegmentIntegration.objects.exists()


def test_the_admin_form_refuses_an_endpoint_that_is_not_allowed(admin_client):
    form = {
        "name": "Production",
        "write_key": WRITE_KEY,
        "endpoint": "http://169.254.169.254/latest/meta-data",
        "enabled": "on",
        "list_syncs-TOTAL_FORMS": "0",
        "list_syncs-INITIAL_FORMS": "0",
    }
    response = admin_client.post(f"{CHANGELIST}add/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Endpoint http://169.254.169.254/latest/meta-data is not allowed" in page
    assert "set SEGMENT_ALLOWED_HOSTS" in page
    assert not SegmentIntegration.objects.exists()


def test_the_command_refuses_an_endpoint_that_is_not_allowed(shop):
    with pytest.raises(CommandError, match=r"Endpoint http://10\.0\.0\.1 is not allowed"):
        call_command(
            "add_segment_integration", "--name", "P", "--write-key", WRITE_KEY,
            "--endpoint", "http://10.0.0.1", "--list", str(shop.pk),
        )  # fmt: skip
    assert not SegmentIntegration.objects.exists()


def test_segment_allowed_hosts_admits_proxies_by_host_name_or_origin_and_nothing_else(settings):
    settings.SEGMENT_ALLOWED_HOSTS = [
        "proxy.internal",
        "https://relay.internal:8443",
        "http://127.0.0.1:9000",
    ]
    for endpoint in ("https://proxy.internal", "https://relay.internal:8443/"):
        create_integration(name=endpoint, write_key=WRITE_KEY, endpoint=endpoint)
    create_integration(name="local", write_key=WRITE_KEY, endpoint="http://127.0.0.1:9000")
    for endpoint in (
        "http://proxy.internal",  # a bare host name means https
        "https://proxy.internal:8443",
        "https://relay.internal",
        "https://127.0.0.1:9000",
        "http://127.0.0.1:9001",
        SEGMENT,  # the setting replaces the default list
    ):
        with pytest.raises(ValidationError, match="not allowed"):
            create_integration(name="refused", write_key=WRITE_KEY, endpoint=endpoint)
    assert SegmentIntegration.objects.count() == 3


def test_segment_allowed_hosts_is_read_from_the_environment_as_origins():
    def read(**env: str) -> list[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
        started = subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, django; django.setup(); from django.conf import settings; "
                "print(json.dumps(settings.SEGMENT_ALLOWED_HOSTS))",
            ],
            cwd=ROOT,
            env={
                **clean,
                "SECRET_KEY": "x" * 50,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                **env,
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert started.returncode == 0, started.stderr
        return json.loads(started.stdout)

    assert read() == ["https://api.segment.io", "https://events.eu1.segmentapis.com"]
    assert read(SEGMENT_ALLOWED_HOSTS="proxy.internal, https://relay.internal:8443,") == [
        "https://proxy.internal",
        "https://relay.internal:8443",
    ]


# --- At delivery -------------------------------------------------------------------------


def test_an_endpoint_no_longer_allowed_is_not_contacted_and_its_messages_wait(
    shop, segment_server, settings, admin_client
):
    make_integration(segment_server.endpoint, shop)
    opens(shop, 3)
    allowed = settings.SEGMENT_ALLOWED_HOSTS
    settings.SEGMENT_ALLOWED_HOSTS = [SEGMENT]  # the operator changed the setting since

    assert deliver_due() == 0
    assert (segment_server.connections, segment_server.requests) == (0, [])
    assert waiting() == [(MessageStatus.PENDING, 0)] * 3  # not lost, no attempt counted
    assert claim_shard() is None  # held back: workers do not spin on it
    listing = admin_client.get(CHANGELIST).content.decode()
    assert f"Endpoint {segment_server.endpoint} is not allowed" in listing
    assert "set SEGMENT_ALLOWED_HOSTS" in listing

    settings.SEGMENT_ALLOWED_HOSTS = allowed  # fixed; a minute later:
    SegmentShard.objects.update(not_before=timezone.now())
    assert deliver_due() == 3
    assert len(segment_server.delivered) == 3


def test_an_endpoint_written_to_the_database_directly_is_never_contacted(
    shop, segment_server, stranger, admin_client
):
    integration = make_integration(segment_server.endpoint, shop)
    SegmentIntegration.objects.update(endpoint=stranger.endpoint)
    opens(shop, 2)

    assert deliver_due() == 0
    action = {"action": "send_test_identify", "_selected_action": [integration.pk]}
    page = admin_client.post(CHANGELIST, action, follow=True).content.decode()
    assert f"Endpoint {stranger.endpoint} is not allowed" in page
    assert (stranger.connections, segment_server.connections) == (0, 0)
    assert waiting() == [(MessageStatus.PENDING, 0)] * 2

    # Fixing the endpoint in the admin lets the held messages go at once.
    form = {
        "name": integration.name,
        "write_key": "",
        "endpoint": segment_server.endpoint,
        "enabled": "on",
        "list_syncs-TOTAL_FORMS": "0",
        "list_syncs-INITIAL_FORMS": "0",
    }
    response = admin_client.post(change_url(integration), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert deliver_due() == 2
    assert stranger.connections == 0


# --- What staff see of an answer ------------------------------------------------------


def test_the_test_identify_reports_the_status_and_reason_never_the_body(
    admin_client, segment_server
):
    integration = make_integration(segment_server.endpoint)
    segment_server.script(Reply(status=400, body=SECRET_BODY))
    action = {"action": "send_test_identify", "_selected_action": [integration.pk]}
    page = admin_client.post(CHANGELIST, action, follow=True).content.decode()
    assert "test identify, HTTP 400 Bad Request" in page
    assert "metadata-token" not in page


def test_failed_deliveries_keep_no_body_in_the_last_error_or_the_dead_letters(
    shop, segment_server, admin_client, settings
):
    settings.SEGMENT_RETRY_BASE_SECONDS = 60  # no second attempt within deliver_due()
    integration = make_integration(segment_server.endpoint, shop)
    opens(shop, 2)
    segment_server.script(Reply(status=503, body=SECRET_BODY))
    assert deliver_due() == 0
    shard = SegmentShard.objects.exclude(last_error="").get()
    assert shard.last_error.startswith("HTTP 503 Service Unavailable (2 messages, retry in")
    assert set(SegmentMessage.objects.values_list("last_response", flat=True)) == {
        "HTTP 503 Service Unavailable"
    }

    SegmentShard.objects.update(not_before=None)
    segment_server.script(Reply(status=400, body=SECRET_BODY))
    assert deliver_due() == 0
    dead = SegmentMessage.objects.filter(status=MessageStatus.DEAD)
    assert set(dead.values_list("last_status", "last_response")) == {(400, "HTTP 400 Bad Request")}
    for url in (CHANGELIST, change_url(integration)):
        page = admin_client.get(url).content.decode()
        assert "HTTP 400 Bad Request" in page
        assert "metadata-token" not in page


def test_a_dead_letter_stored_with_a_body_shows_only_its_status_in_the_admin(shop, admin_client):
    integration = make_integration(SEGMENT, shop)
    SegmentMessage.objects.create(
        integration=integration,
        shard=0,
        kind="identify",
        payload="{}",
        status=MessageStatus.DEAD,
        attempts=1,
        last_status=422,
        last_response=SECRET_BODY,  # as stored before answers were cut to their status
        dead_at=timezone.now(),
    )
    page = admin_client.get(change_url(integration)).content.decode()
    assert "HTTP 422 Unprocessable" in page
    assert "metadata-token" not in page


def test_a_redirect_is_an_error_and_is_not_followed(shop, segment_server, settings, admin_client):
    with serving(settings) as elsewhere:  # allowed too: still not followed
        integration = make_integration(segment_server.endpoint, shop)
        opens(shop, 2)
        location = {"Location": f"{elsewhere.endpoint}/v1/batch"}
        segment_server.script(Reply(status=307, headers=location, body="moved"))
        assert deliver_due() == 0
        assert set(SegmentMessage.objects.values_list("status", flat=True)) == {MessageStatus.DEAD}
        shard = SegmentShard.objects.exclude(last_error="").get()
        assert shard.last_error == "HTTP 307 Temporary Redirect (2 messages, dead-lettered)"

        segment_server.script(Reply(status=302, headers=location, body="moved"))
        action = {"action": "send_test_identify", "_selected_action": [integration.pk]}
        page = admin_client.post(CHANGELIST, action, follow=True).content.decode()
        assert "test identify, HTTP 302 Found" in page
        assert elsewhere.connections == 0


# --- Who may act -----------------------------------------------------------------------


def dead_letter(integration) -> SegmentMessage:
    return SegmentMessage.objects.create(
        integration=integration,
        shard=0,
        kind="identify",
        payload="{}",
        status=MessageStatus.DEAD,
        attempts=30,
        last_status=500,
        dead_at=timezone.now(),
    )


def test_a_view_only_staff_user_cannot_send_a_test_identify(
    client, django_user_model, segment_server
):
    integration = make_integration(segment_server.endpoint)
    client.force_login(staff(django_user_model, "view_segmentintegration"))
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert "send_test_identify" not in listing.content.decode()

    action = {"action": "send_test_identify", "_selected_action": [integration.pk]}
    response = client.post(CHANGELIST, action)
    # Not offered to this user, and refused when posted anyway (config/admin.py's rule).
    assert response.status_code == 403
    assert (segment_server.connections, segment_server.requests) == (0, [])


def test_a_view_only_staff_user_cannot_retry_dead_letters(client, django_user_model, shop):
    integration = make_integration(SEGMENT, shop)
    letter = dead_letter(integration)
    client.force_login(staff(django_user_model, "view_segmentintegration"))
    action = {"action": "retry_dead_letters", "_selected_action": [integration.pk]}
    response = client.post(CHANGELIST, action)
    assert response.status_code == 403
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (MessageStatus.DEAD, 30)


def test_a_staff_user_with_the_change_permission_can_run_both_actions(
    client, django_user_model, shop, segment_server
):
    integration = make_integration(segment_server.endpoint, shop)
    letter = dead_letter(integration)
    client.force_login(
        staff(django_user_model, "view_segmentintegration", "change_segmentintegration")
    )
    for name, said in [
        ("send_test_identify", "test identify, HTTP 200 OK"),
        ("retry_dead_letters", "1 dead letters queued again"),
    ]:
        action = {"action": name, "_selected_action": [integration.pk]}
        response = client.post(CHANGELIST, action, follow=True)
        assert said in response.content.decode()
    assert len(segment_server.requests) == 1
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (MessageStatus.PENDING, 0)
