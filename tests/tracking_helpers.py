"""Sending a tracked email through a real SMTP server, and reading its links."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from django.conf import settings

from conductor.engine.tasks import run_due
from conductor.models import Conversation, StepKind, Version
from conductor.versions import publish
from contacts.services import fire_event, subscribe_contact, update_profile
from emails.models import Message
from tests.factories import EventFactory, MessageFactory, conversation_with_steps

HTML = """<html><body>
<p>Hi {{ profile.first_name }}</p>
<a href="https://shop.example/sale">Sale</a>
<a href='https://shop.example/p?who={{ profile.first_name }}'>For you</a>
<a href="mailto:help@shop.example">Help</a>
</body></html>"""
TEXT = "Hi {{ profile.first_name }}, see https://shop.example/sale today."
URL = re.compile(r"""https?://[^\s"'<>]+""")


def publish_mailing(shop) -> Message:
    """A published conversation sending one message (links in both bodies)
    to every first-time subscriber of ``shop``."""
    message = MessageFactory.create(
        list=shop, name="Sale", subject="Sale for {{ profile.first_name }}",
        html_body=HTML, text_body=TEXT,
    )  # fmt: skip
    send = (StepKind.MESSAGE, {"message": message.pk})
    conversation, _ = conversation_with_steps(shop, send, (StepKind.TERMINATE, {}), name="Welcome")
    publish(conversation)
    return message


def published_before_contents_were_frozen() -> None:
    """Versions published before publishing froze their messages' content
    send each message as it is now: tests that break or change the message
    such a version sends (as messages saved before a check was added may
    be) make the published versions so. (A version published since sends
    what it froze: tests/test_published_content.py.)"""
    Version.objects.update(message_contents={})


def send_to(shop, smtp_server, address: str, first_name: str = "Ada"):
    contact = subscribe_contact(email_list=shop, email=address, method="API").contact
    assert contact is not None, f"{address} was not subscribed"
    update_profile(contact=contact, values={"First Name": first_name})
    run_due()
    (email,) = [m for m in smtp_server.messages if m["To"] == address]
    return contact, email


def html_of(email) -> str:
    return email.get_body(preferencelist=("html",)).get_content()


def text_of(email) -> str:
    return email.get_body(preferencelist=("plain",)).get_content()


def path_of(url: str) -> str:
    assert url.startswith(settings.PUBLIC_BASE_URL)
    return urlsplit(url).path


def links(html: str, kind: str) -> list[str]:
    """The email's URLs of one kind of page (c, o, v, f, u), in order."""
    return [u for u in URL.findall(html.replace("&amp;", "&")) if f"/t/{kind}/" in u]


def engagement_story(shop, smtp_server, client, settings):
    """Ada opens twice, clicks and buys for 50; Bob bounces hard; Cy views it
    in the browser."""
    settings.EMAIL_FEEDBACK_SECRET = "r" * 32
    message = publish_mailing(shop)
    emails = {}
    for address in ("ada@example.com", "bob@example.com", "cy@example.com"):
        contact, email = send_to(shop, smtp_server, address)
        emails[address] = (contact, email)
    ada, ada_email = emails["ada@example.com"]
    client.get(path_of(links(html_of(ada_email), "o")[0]))
    client.get(path_of(links(html_of(ada_email), "o")[0]))
    client.get(path_of(links(html_of(ada_email), "c")[0]))
    fire_event(event=EventFactory(list=shop, name="Purchase"), contact=ada, data={"orderTotal": 50})
    bob, bob_email = emails["bob@example.com"]
    client.post(
        "/webhooks/email-feedback/",
        data=json.dumps(
            {"email": bob.email, "message_id": bob_email["Message-ID"], "kind": "hard_bounce"}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {'r' * 32}",
    )
    _, cy_email = emails["cy@example.com"]
    client.get(path_of(links(html_of(cy_email), "v")[0]))
    return message, Conversation.objects.get(name="Welcome")
