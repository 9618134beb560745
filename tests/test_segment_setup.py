"""Setting Segment up: synced lists and their userId field, the backfill of
every contact, ``add_segment_integration`` and the settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from contacts.models import SubscriptionState
from contacts.services import subscribe_contact
from integrations.models import (
    SHARDS,
    SegmentIntegration,
    SegmentListSync,
    SegmentMessage,
    SegmentShard,
)
from integrations.segment import backfill as backfill_module
from integrations.segment.backfill import backfill_list_sync, resume_backfills
from integrations.segment.services import create_integration, sync_list
from tests.factories import ContactFactory, ListFactory, ProfileFieldFactory
from tests.segment_server import WRITE_KEY, allow, make_integration, outbox, speed_up

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)
    allow(settings, ENDPOINT)


ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture
def customer_id(shop):
    return ProfileFieldFactory(list=shop, group=shop.field_groups.first(), name="Customer Id")


def people(shop, count: int, customer_id=None) -> None:
    """``count`` contacts: every third unsubscribed, every other with a customer id."""
    for n in range(count):
        ContactFactory(
            list=shop,
            email=f"p{n:04d}@example.com",
            state=SubscriptionState.UNSUBSCRIBED if n % 3 == 2 else SubscriptionState.SUBSCRIBED,
            unsubscribed_at="2024-01-01T00:00:00Z" if n % 3 == 2 else None,
            profile={str(customer_id.pk): f"C{n}"} if customer_id and n % 2 == 0 else {},
        )


def test_an_integration_is_created_with_its_shards():
    integration = create_integration(name="Shop", write_key=WRITE_KEY)
    assert integration.endpoint == "https://api.segment.io"
    assert SegmentShard.objects.filter(integration=integration).count() == SHARDS


def test_adding_a_list_backfills_an_identify_for_every_contact_in_chunks(
    shop, customer_id, monkeypatch
):
    monkeypatch.setattr(backfill_module, "CHUNK", 7)  # 30 contacts: five chunks
    people(shop, 30, customer_id)
    ContactFactory(list=ListFactory(), email="elsewhere@example.com")
    integration = make_integration(ENDPOINT, shop, user_id_field=customer_id)
    sync = SegmentListSync.objects.get()
    assert not SegmentMessage.objects.exists()

    written, done = backfill_list_sync(sync_id=sync.pk)
    assert (written, done) == (30, True)
    messages = outbox(integration)
    assert [m["anonymousId"] for m in messages] == [f"p{n:04d}@example.com" for n in range(30)]
    trait = f"listrak_list_{shop.pk}"
    for n, message in enumerate(messages):
        assert message["type"] == "identify"
        assert message["traits"] == {
            "email": f"p{n:04d}@example.com",
            trait: None if n % 3 == 2 else True,
        }
        assert message.get("userId") == (f"C{n}" if n % 2 == 0 else None)
    sync.refresh_from_db()
    assert sync.backfilled_at is not None
    assert backfill_list_sync(sync_id=sync.pk) == (0, True)  # done: nothing twice


def test_a_backfill_cut_short_goes_on_where_it_stopped(shop, monkeypatch):
    monkeypatch.setattr(backfill_module, "CHUNK", 4)
    people(shop, 10)
    make_integration(ENDPOINT, shop)
    sync = SegmentListSync.objects.get()
    assert backfill_module._backfill_chunk(sync.pk) == 4  # then the worker died
    sync.refresh_from_db()
    assert sync.backfill_after == "p0003@example.com"
    assert resume_backfills() == 6  # the schedule's sweep
    assert sorted(m["anonymousId"] for m in outbox()) == [
        f"p{n:04d}@example.com" for n in range(10)
    ]


def test_a_disabled_integrations_backfill_waits_until_it_is_enabled(shop):
    people(shop, 3)
    integration = make_integration(ENDPOINT, shop, enabled=False)
    sync = SegmentListSync.objects.get()
    assert backfill_list_sync(sync_id=sync.pk) == (0, False)
    assert resume_backfills() == 0
    integration.enabled = True
    integration.save()
    assert resume_backfills() == 3


def test_the_user_id_field_must_be_a_field_of_the_synced_list(shop, customer_id):
    other = ListFactory(name="Other")
    integration = create_integration(name="Shop", write_key=WRITE_KEY)
    with pytest.raises(ValidationError, match="not on list"):
        sync_list(integration=integration, email_list=other, user_id_field=customer_id)
    with pytest.raises(ValidationError, match="not on this list"):
        SegmentListSync.objects.create(
            integration=integration, list=other, user_id_field=customer_id
        )
    assert not SegmentListSync.objects.exists()


def test_a_list_is_synced_once_per_integration(shop):
    integration = make_integration(ENDPOINT, shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentListSync.objects.create(integration=integration, list=shop)


def test_a_write_key_is_required():
    with pytest.raises(ValidationError):
        create_integration(name="Shop", write_key="  ")
    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentIntegration.objects.create(name="Raw", write_key="")


def test_the_command_creates_the_integration_syncs_and_backfills(shop, customer_id, capsys):
    people(shop, 5, customer_id)
    other = ListFactory(name="Other")
    subscribe_contact(email_list=other, email="x@example.com", method="API")
    call_command(
        "add_segment_integration",
        "--name",
        "Production",
        "--write-key",
        WRITE_KEY,
        "--endpoint",
        "https://events.eu1.segmentapis.com/",
        "--list",
        f"{shop.pk}:{customer_id.pk}",
        "--list",
        str(other.pk),
    )
    out = capsys.readouterr().out
    assert WRITE_KEY not in out
    assert "Production" in out
    integration = SegmentIntegration.objects.get()
    assert integration.write_key == WRITE_KEY
    assert integration.endpoint == "https://events.eu1.segmentapis.com"
    syncs = {s.list_id: s.user_id_field_id for s in integration.list_syncs.all()}
    assert syncs == {shop.pk: customer_id.pk, other.pk: None}
    assert SegmentMessage.objects.count() == 6
    assert not SegmentListSync.objects.filter(backfilled_at=None).exists()


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        (["999999"], "there is no list 999999"),
        (["{shop}:999999"], "there is no profile field 999999"),
        (["{other}:{field}"], "is not on list"),
        (["{shop}:abc"], "expected LIST_ID or LIST_ID:USER_ID_FIELD_ID"),
        (["{shop}", "{shop}"], "is given twice"),
    ],
)
def test_the_command_names_a_bad_list_or_field_and_writes_nothing(
    shop, customer_id, lists, message
):
    other = ListFactory(name="Other")
    args = []
    for spec in lists:
        args += ["--list", spec.format(shop=shop.pk, other=other.pk, field=customer_id.pk)]
    with pytest.raises(CommandError, match=message):
        call_command("add_segment_integration", "--name", "P", "--write-key", WRITE_KEY, *args)
    assert not SegmentIntegration.objects.exists()
    assert not SegmentListSync.objects.exists()


def test_the_command_refuses_a_taken_name_and_a_bad_endpoint(shop):
    create_integration(name="Production", write_key=WRITE_KEY)
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "add_segment_integration", "--name", "Production", "--write-key", "k" * 20,
            "--list", str(shop.pk),
        )  # fmt: skip
    with pytest.raises(CommandError, match="Endpoint ftp://segment is not allowed"):
        call_command(
            "add_segment_integration", "--name", "Other", "--write-key", "k" * 20,
            "--endpoint", "ftp://segment", "--list", str(shop.pk),
        )  # fmt: skip
    assert SegmentIntegration.objects.count() == 1


def start(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps([settings.SEGMENT_TIMEOUT_SECONDS, settings.SEGMENT_LEASE_SECONDS,"
            " settings.SEGMENT_MAX_ATTEMPTS]))",
        ],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_settings_have_defaults():
    started = start()
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) == [10, 60, 30]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SEGMENT_MAX_ATTEMPTS": "many"}, "SEGMENT_MAX_ATTEMPTS='many' is invalid"),
        ({"SEGMENT_MAX_ATTEMPTS": "0"}, "expected a number of at least 1"),
        ({"SEGMENT_TIMEOUT_SECONDS": "-1"}, "SEGMENT_TIMEOUT_SECONDS='-1' is invalid"),
        ({"SEGMENT_RETRY_BASE_SECONDS": "0.5"}, "SEGMENT_RETRY_BASE_SECONDS='0.5' is invalid"),
        (
            {"SEGMENT_LEASE_SECONDS": "15"},
            "SEGMENT_LEASE_SECONDS=15 is invalid: expected at least twice",
        ),
        (
            {"SEGMENT_ALLOWED_HOSTS": "api.segment.io,ftp://relay"},
            "SEGMENT_ALLOWED_HOSTS='api.segment.io,ftp://relay' is invalid",
        ),
        ({"SEGMENT_ALLOWED_HOSTS": "https://relay/v1"}, "'https://relay/v1': it must have no path"),
        ({"SEGMENT_ALLOWED_HOSTS": "user@relay"}, "'user@relay': it must not hold a user name"),
        ({"SEGMENT_ALLOWED_HOSTS": "relay:99999"}, "'relay:99999': its port is not a number"),
    ],
)
def test_a_bad_segment_setting_stops_the_start_naming_it(env, message):
    started = start(**env)
    assert started.returncode != 0
    assert message in started.stderr


def test_a_backfill_starts_once_every_process_knows_the_list_is_synced(shop, settings):
    settings.SEGMENT_LIST_CACHE_SECONDS = 1  # how long other processes may not know
    people(shop, 2)
    make_integration(ENDPOINT, shop)
    sync = SegmentListSync.objects.get()
    assert backfill_list_sync(sync_id=sync.pk, wait=False) == (0, False)
    assert resume_backfills() == 0  # the sweep leaves it for later
    started = time.monotonic()
    assert backfill_list_sync(sync_id=sync.pk) == (2, True)
    assert time.monotonic() - started > 0.5
