"""Conductor's emails go out over several SMTP connections at once, each
exactly once, and wait Pending when the server cannot take them."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiosmtpd.controller import Controller

from conductor.engine.tasks import run_due
from contacts.services import subscribe_contact
from emails.models import Delivery, DeliveryStatus
from emails.sending.senders import Senders, ServerGone
from tests.smtp import HOST, CollectingHandler, free_port
from tests.tracking_helpers import publish_mailing

pytestmark = pytest.mark.django_db


class SlowHandler(CollectingHandler):
    """Takes a while over each email, and notes how many it held at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0
        self.count_lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.count_lock:
            self.now += 1
            self.most = max(self.most, self.now)
        await asyncio.sleep(0.05)
        with self.count_lock:
            self.now -= 1
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_server(settings):
    handler = SlowHandler()
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = HOST, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield handler
    finally:
        controller.stop()


def subscribe(shop, count: int) -> list[str]:
    addresses = [f"c{n}@example.com" for n in range(count)]
    for address in addresses:
        subscribe_contact(email_list=shop, email=address, method="API")
    return addresses


def test_a_worker_sends_over_email_connections_at_once_each_email_once(shop, slow_server, settings):
    settings.EMAIL_CONNECTIONS = 3
    publish_mailing(shop)
    addresses = subscribe(shop, 12)
    run_due()
    assert sorted(m["To"] for m in slow_server.messages) == sorted(addresses)
    assert slow_server.most == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_one_connection_sends_one_email_at_a_time(shop, slow_server, settings):
    settings.EMAIL_CONNECTIONS = 1
    publish_mailing(shop)
    subscribe(shop, 4)
    run_due()
    assert (len(slow_server.messages), slow_server.most) == (4, 1)


def test_with_the_server_down_every_email_waits_pending_and_goes_once_it_is_back(
    shop, smtp_server, settings
):
    settings.EMAIL_CONNECTIONS = 3
    publish_mailing(shop)
    settings.EMAIL_PORT = free_port()  # nothing listens there
    addresses = subscribe(shop, 7)
    run_due()
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    assert pending.count() == 7
    assert all("refused" in error.lower() for error in pending.values_list("error", flat=True))
    assert smtp_server.messages == []

    settings.EMAIL_PORT = smtp_server.port
    run_due()
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(addresses)
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 7


def test_senders_report_every_email_even_when_no_connection_can_be_opened(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = HOST, free_port()
    sent = []
    with Senders(2, lambda email, backend: sent.append(email)) as senders:
        handed = [n for n in range(10) if senders.put(n, f"email {n}")]
        results = dict(senders.close())
    assert sent == []
    assert sorted(results) == handed  # each email handed over comes back failed
    assert all(isinstance(error, ConnectionRefusedError | ServerGone) for error in results.values())
    assert senders.alive == 0


@pytest.mark.parametrize("connections", [1, 3, 8])
def test_senders_send_everything_handed_over_and_close_every_thread(settings, connections):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for _ in range(20):  # closing races the threads taking their last emails
        sent, lock = [], threading.Lock()

        def send(email, backend, sent=sent, lock=lock):
            with lock:
                sent.append(email)

        with Senders(connections, send) as senders:
            results = []
            for n in range(30):
                assert senders.put(n, n)
                results.extend(senders.finished())
            results.extend(senders.close())
        assert sorted(sent) == list(range(30))
        assert sorted(results) == [(n, None) for n in range(30)]
        assert not any(thread.is_alive() for thread in senders.threads)
