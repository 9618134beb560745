"""Tracked email against hostile merge values: a link's address never comes
from a profile, a merged subject is plain text on one header line, and
Segment hears the subject and the user agent each contact really had."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conductor.engine.tasks import run_due
from conductor.models import StepKind
from conductor.versions import publish, working_version
from contacts.models import ActivityKind
from contacts.services import fire_event, subscribe_contact, update_profile
from emails.models import Delivery, Message, MessageLink
from lists.models import ProfileField
from tests.factories import (
    ConversationFactory,
    EventFactory,
    MessageFactory,
    ProfileFieldFactory,
    TriggerFactory,
    add_step,
    main_thread,
)
from tests.segment_server import allow, make_integration, outbox, speed_up
from tests.tracking_helpers import (
    html_of,
    links,
    path_of,
    publish_mailing,
    published_before_contents_were_frozen,
    send_to,
    text_of,
)

pytestmark = pytest.mark.django_db

HOST_FROM_MERGE = "https://shop.example{{ profile.last_name }}"
SEGMENT = "http://127.0.0.1:9"  # never contacted here: nothing is delivered
WHY = "takes its address from a merge field; only its path, query or fragment may use merge fields."


@pytest.fixture
def last_name(shop) -> ProfileField:
    first = ProfileField.objects.get(list=shop, name="First Name")
    return ProfileFieldFactory.create(group=first.group, name="Last Name", max_length=200)


def message_with(shop, url: str) -> Message:
    html = f'<a href="{url}">Shop</a>'
    return Message(list=shop, name="Sale", subject="Sale", html_body=html, text_body="Hello")


def send_with(shop, smtp_server, address: str, **values: str):
    """Subscribe ``address`` with these profile values and send it what is due."""
    contact = subscribe_contact(email_list=shop, email=address, method="API").contact
    assert contact is not None, f"{address} was not subscribed"
    update_profile(contact=contact, values=values)
    run_due()
    (email,) = [m for m in smtp_server.messages if m["To"] == address]
    (raw,) = [e.original_content for e in smtp_server.handler.envelopes if address in e.rcpt_tos]
    return contact, email, raw


def subject_lines(raw: bytes) -> list[bytes]:
    """The Subject header of a raw email as it came over the wire, with its
    continuation lines."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    end = next(
        (i for i in range(start + 1, len(head)) if head[i][:1] not in (b" ", b"\t")), len(head)
    )
    return head[start:end]


# A tracked link's scheme, userinfo, host and port are literal text of its template.


@pytest.mark.parametrize(
    "url",
    [
        HOST_FROM_MERGE,
        "https://{{ profile.last_name }}",
        "https://{{ profile.last_name }}.shop.example/",
        "https://{{ profile.last_name }}@shop.example/",
        "https://shop.example:{{ profile.points }}/",
        "https://shop.example{% if 1 %}.evil.example{% endif %}/",
        "https://shop.example\\{{ profile.last_name }}/",
    ],
)
def test_a_link_taking_its_userinfo_host_or_port_from_a_merge_field_is_refused_at_save(
    shop, last_name, url
):
    with pytest.raises(ValidationError) as refused:
        message_with(shop, url).full_clean()
    assert refused.value.message_dict == {"html_body": [f"The link {url} {WHY}"]}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https:///sale", "has no host."),
        ("https://:8443/sale", "has no host."),
        ("https://shop.example:port/", "has an address that is not valid."),
        ("https://shop .example/", "has spaces, backslashes or control characters in its address."),
    ],
)
def test_a_link_with_no_literal_host_is_refused_at_save(shop, url, why):
    with pytest.raises(ValidationError) as refused:
        message_with(shop, url).full_clean()
    assert refused.value.message_dict == {"html_body": [f"The link {url} {why}"]}


def test_merge_fields_in_a_links_path_query_or_fragment_and_literal_userinfo_are_accepted(
    shop, last_name
):
    for url in [
        "https://shop.example/{{ profile.last_name }}",
        "https://shop.example?who={{ profile.last_name }}",
        "https://shop.example#{{ profile.last_name }}",
        "https://news@shop.example:8443/p/{{ profile.last_name }}",
        "{{ links.browser }}",  # not a tracked link: the message's own page
    ]:
        message_with(shop, url).full_clean()


def test_the_admin_shows_a_bare_text_link_taking_its_host_from_a_merge_field_on_its_field(
    shop, last_name, admin_client
):
    response = admin_client.post(
        reverse("admin:emails_message_add"),
        {
            "list": shop.pk, "name": "Sale", "subject": "Sale",
            "html_body": "", "text_body": f"Hello, see {HOST_FROM_MERGE} today",
        },
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"text_body": [f"The link {HOST_FROM_MERGE} {WHY}"]}
    assert not Message.objects.exists()


def test_publishing_refuses_a_message_step_whose_message_takes_a_link_address_from_a_merge_field(
    shop, last_name, admin_client
):
    # Saved before the check (or not through a form): publishing is the last gate.
    sale = MessageFactory(list=shop, name="Sale", text_body=f"See {HOST_FROM_MERGE}")
    fine = MessageFactory(list=shop)
    conversation = ConversationFactory(list=shop)
    trigger = TriggerFactory(conversation=conversation)
    thread = main_thread(conversation)
    variants = [{"trigger": trigger.pk, "message": sale.pk}]
    step = add_step(thread, StepKind.MESSAGE, message=fine.pk, variants=variants)
    add_step(thread, StepKind.TERMINATE)
    problem = f"Main step 1, Message: message “Sale”: The link {HOST_FROM_MERGE} {WHY}"
    with pytest.raises(ValidationError) as refused:
        publish(conversation)
    assert refused.value.messages == [problem]
    url = reverse("admin:conductor_conversation_publish", args=[conversation.pk])
    response = admin_client.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == [problem]
    assert not working_version(conversation).is_published
    step.settings = {"message": fine.pk}
    step.save()
    assert publish(conversation).is_published


@pytest.fixture
def mailing_saved_before_the_check(shop, last_name) -> Message:
    """A published mailing whose message's link was then given a host from a
    merge field, as messages saved before links were checked may have."""
    message = publish_mailing(shop)
    published_before_contents_were_frozen()
    Message.objects.filter(pk=message.pk).update(
        html_body=f'<a href="{HOST_FROM_MERGE}">Shop</a>', text_body=f"See {HOST_FROM_MERGE}"
    )
    return message


@pytest.mark.parametrize(
    "name", ["@evil.example/x", ".evil.example", "\\@evil.example", ":8443", "", "Lovelace"]
)
def test_a_click_on_a_link_saved_before_the_check_is_refused_and_records_nothing(
    shop, mailing_saved_before_the_check, smtp_server, client, name
):
    contact, email, _ = send_with(
        shop, smtp_server, "ada@example.com", **{"First Name": "Ada", "Last Name": name}
    )
    (click,) = links(html_of(email), "c")
    assert links(text_of(email), "c") == [click]
    assert client.get(path_of(click)).status_code == 404
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_CLICKED).exists()


def test_a_click_leads_only_to_the_userinfo_host_and_port_written_in_the_template(
    shop, mailing_saved_before_the_check, smtp_server, client
):
    message = mailing_saved_before_the_check
    written = [
        "https://news@shop.example:8443/p/{{ profile.last_name }}",
        "https://shop.example\\@evil.example/",  # a backslash: "/" to a browser
    ]
    Message.objects.filter(pk=message.pk).update(
        html_body="".join(f'<a href="{url}">x</a>' for url in written)
    )
    contact, email, _ = send_with(shop, smtp_server, "ada@example.com", **{"Last Name": "@x/y"})
    literal_userinfo, backslash = links(html_of(email), "c")
    response = client.get(path_of(literal_userinfo))
    assert response["Location"] == "https://news@shop.example:8443/p/@x/y"
    assert client.get(path_of(backslash)).status_code == 404
    (clicked,) = contact.activities.filter(kind=ActivityKind.EMAIL_CLICKED)
    assert clicked.details["link_id"] == MessageLink.objects.get(url=written[0]).pk


def test_a_test_send_of_a_link_taking_its_host_from_a_merge_field_is_refused_naming_the_link(
    shop, last_name, admin_client, smtp_server
):
    message = MessageFactory(list=shop, text_body=f"See {HOST_FROM_MERGE}")
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    update_profile(contact=contact, values={"Last Name": "@evil.example/x"})
    url = reverse("admin:emails_message_test_send", args=[message.pk])
    response = admin_client.post(url, {"email": "ada@example.com"})
    assert response.status_code == 200
    assert f"Not sent: The link {HOST_FROM_MERGE} {WHY}" in response.content.decode()
    assert smtp_server.messages == []


# A merged subject is plain text on one header line.


def test_a_merged_subject_is_plain_text_while_the_html_part_stays_escaped(shop, smtp_server):
    publish_mailing(shop)
    _, email, raw = send_with(shop, smtp_server, "ada@example.com", **{"First Name": "<img src=x>"})
    assert email["Subject"] == "Sale for <img src=x>"
    assert subject_lines(raw) == [b"Subject: Sale for <img src=x>"]
    assert "Hi &lt;img src=x&gt;" in html_of(email) and "<img src=x>" not in html_of(email)
    assert text_of(email).startswith("Hi <img src=x>, see ")


@pytest.mark.parametrize(
    "separator",
    ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"],
)
def test_line_breaks_and_separators_in_a_merged_subject_arrive_as_plain_spaces(
    shop, smtp_server, separator
):
    publish_mailing(shop)
    name = f"Ada{separator}Bcc: eve@evil.example"
    _, email, raw = send_with(shop, smtp_server, "ada@example.com", **{"First Name": name})
    assert email["Subject"] == "Sale for Ada Bcc: eve@evil.example"
    assert email["Bcc"] is None
    assert [e.rcpt_tos for e in smtp_server.handler.envelopes] == [["ada@example.com"]]
    assert subject_lines(raw) == [b"Subject: Sale for Ada Bcc: eve@evil.example"]


@pytest.mark.parametrize(
    "name",
    [
        "Zoë — été 🎉",
        "=?utf-8?q?Free?= money",  # ASCII that reads as an RFC 2047 encoded word
        "Ada\x1bBell",  # a control character that is not white space
    ],
)
def test_a_subject_arrives_exactly_as_merged_in_ascii_on_the_wire(shop, smtp_server, name):
    publish_mailing(shop)
    _, email, raw = send_with(shop, smtp_server, "ada@example.com", **{"First Name": name})
    assert email["Subject"] == f"Sale for {name}"
    assert all(line.isascii() for line in subject_lines(raw))


def test_a_test_sends_subject_is_plain_text_on_one_line(shop, admin_client, smtp_server):
    message = MessageFactory(list=shop, subject="Sale for {{ profile.first_name }}")
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    update_profile(contact=contact, values={"First Name": "<b>Ada</b>\r\nBcc: eve@evil.example"})
    url = reverse("admin:emails_message_test_send", args=[message.pk])
    assert admin_client.post(url, {"email": "ada@example.com"}).status_code == 302
    (email,) = smtp_server.messages
    assert email["Subject"] == "[Test] Sale for <b>Ada</b> Bcc: eve@evil.example"
    assert email["Bcc"] is None


# What Segment hears of an email: the subject each contact received, and the user agent.


def tracks() -> dict[tuple[str, str], dict]:
    """The outbox's track calls by event and address (each once here)."""
    found: dict[tuple[str, str], dict] = {}
    for message in outbox():
        if message["type"] == "track":
            key = (message["event"], message["anonymousId"])
            assert key not in found, key
            found[key] = message
    return found


def test_every_email_event_reports_the_subject_its_contact_received(
    shop, smtp_server, client, settings
):
    speed_up(settings)
    allow(settings, SEGMENT)
    settings.EMAIL_FEEDBACK_SECRET = "f" * 32
    make_integration(SEGMENT, shop)
    publish_mailing(shop)  # subject "Sale for {{ profile.first_name }}"
    sent = {name: send_to(shop, smtp_server, f"{name.lower()}@example.com", name) for name in
            ("Ada", "Bob", "Cy", "Dee")}  # fmt: skip
    ada, ada_email = sent["Ada"]
    client.get(path_of(links(html_of(ada_email), "o")[0]))
    client.get(path_of(links(html_of(ada_email), "c")[0]))
    fire_event(event=EventFactory(list=shop, name="Purchase"), contact=ada, data={"orderTotal": 5})
    for name, kind in (("Bob", "hard_bounce"), ("Cy", "complaint")):
        contact, email = sent[name]
        report = {"email": contact.email, "message_id": email["Message-ID"], "kind": kind}
        client.post(
            "/webhooks/email-feedback/", data=json.dumps(report),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {'f' * 32}",
        )  # fmt: skip
    client.post(path_of(links(html_of(sent["Dee"][1]), "u")[0]))
    subjects = {key: track["properties"].get("email_subject") for key, track in tracks().items()}
    assert subjects == {
        **{("Email Sent", f"{n.lower()}@example.com"): f"Sale for {n}" for n in sent},
        ("Email Opened", "ada@example.com"): "Sale for Ada",
        ("Email Link Clicked", "ada@example.com"): "Sale for Ada",
        ("Email Converted", "ada@example.com"): "Sale for Ada",
        ("Email Bounced", "bob@example.com"): "Sale for Bob",
        ("Unsubscribed", "bob@example.com"): "Sale for Bob",
        ("Email Marked As Spam", "cy@example.com"): "Sale for Cy",
        ("Unsubscribed", "cy@example.com"): "Sale for Cy",
        ("Unsubscribed", "dee@example.com"): "Sale for Dee",
    }
    assert set(Delivery.objects.values_list("subject", flat=True)) == {
        f"Sale for {n}" for n in sent
    }


def test_an_email_sent_before_subjects_were_kept_never_reports_its_template(
    shop, smtp_server, client, settings
):
    speed_up(settings)
    allow(settings, SEGMENT)
    make_integration(SEGMENT, shop)
    message = publish_mailing(shop)
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    pixel = path_of(links(html_of(email), "o")[0])
    Delivery.objects.update(subject="")  # as sent before this column existed
    client.get(pixel)
    assert "email_subject" not in tracks()[("Email Opened", "ada@example.com")]["properties"]
    Message.objects.filter(pk=message.pk).update(subject="Spring  sale")  # no merge field
    client.get(pixel)
    (_, opened) = [t for t in outbox() if t.get("event") == "Email Opened"]
    assert opened["properties"]["email_subject"] == "Spring sale"


def test_opens_and_clicks_carry_the_user_agent_in_segments_spelling_too(
    shop, smtp_server, client, settings
):
    speed_up(settings)
    allow(settings, SEGMENT)
    make_integration(SEGMENT, shop)
    publish_mailing(shop)
    _, email = send_to(shop, smtp_server, "ada@example.com")
    client.get(path_of(links(html_of(email), "o")[0]), HTTP_USER_AGENT="Mail/2.0")
    client.get(path_of(links(html_of(email), "c")[0]), HTTP_USER_AGENT="Mail/2.0")
    found = tracks()
    for event in ("Email Opened", "Email Link Clicked"):
        assert found[(event, "ada@example.com")]["context"] == {
            "traits": {"email": "ada@example.com"},
            "ip": "127.0.0.1",
            "user_agent": "Mail/2.0",
            "userAgent": "Mail/2.0",
        }
    assert "userAgent" not in found[("Email Sent", "ada@example.com")]["context"]
