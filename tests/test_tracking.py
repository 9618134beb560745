"""Tracked email: the links inside a sent message (taken from a real SMTP
server), what following each one records, and refusing forged ones."""

from __future__ import annotations

from typing import cast

import pytest
from django.test import Client

from conductor.models import StepRun
from contacts.models import Activity, ActivityKind, SubscriptionState, UnsubscribeMethod
from contacts.services import update_profile
from emails.models import Delivery, MessageLink
from emails.tracking.tokens import make_token, read_token
from tests.factories import MessageFactory
from tests.tracking_helpers import html_of, links, path_of, publish_mailing, send_to, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(shop):
    return publish_mailing(shop)


def activities(contact, kind: str) -> list[Activity]:
    return list(contact.activities.filter(kind=kind).order_by("pk"))


def test_a_sent_email_has_tracked_links_a_pixel_its_own_pages_and_one_click_headers(
    shop, mailing, smtp_server
):
    _, email = send_to(shop, smtp_server, "ada@example.com")
    html, text = html_of(email), text_of(email)
    assert "https://shop.example/" not in html and "https://shop.example/" not in text
    assert len(links(html, "c")) == 2 and len(links(text, "c")) == 1
    assert links(text, "c")[0] == links(html, "c")[0]  # the same link, tracked the same way
    assert "mailto:help@shop.example" in html  # not a web link: left alone
    assert len(links(html, "o")) == 1
    assert len(links(html, "v")) == len(links(html, "f")) == len(links(html, "u")) == 1
    unsubscribe = links(html, "u")[0]
    assert email["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # (folded: a long line)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert links(text, "u") == [unsubscribe]


def test_each_link_of_a_message_keeps_one_id_in_every_email(shop, mailing, smtp_server):
    _, first = send_to(shop, smtp_server, "ada@example.com", "Ada")
    _, second = send_to(shop, smtp_server, "bob@example.com", "Bob")

    def link_ids(email) -> list[int]:
        tokens = [path_of(u).split("/")[3] for u in links(html_of(email), "c")]
        # The server's own links: every token reads.
        return [cast(list[int], read_token("click", token))[1] for token in tokens]

    assert link_ids(first) == link_ids(second)
    assert list(MessageLink.objects.order_by("pk").values_list("url", flat=True)) == [
        "https://shop.example/sale",
        "https://shop.example/p?who={{ profile.first_name }}",
    ]


def test_a_click_records_the_link_and_leads_to_it_as_the_contact_received_it(
    shop, mailing, smtp_server, client
):
    contact, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    update_profile(contact=contact, values={"First Name": "Changed"})
    sale, personal = links(html_of(email), "c")
    response = client.get(path_of(personal), HTTP_USER_AGENT="Mail/1.0", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example/p?who=Ada"
    assert client.get(path_of(sale))["Location"] == "https://shop.example/sale"
    first, second = activities(contact, ActivityKind.EMAIL_CLICKED)
    link = MessageLink.objects.get(url__contains="who=")
    delivery = Delivery.objects.get()
    assert first.details == {
        "message_id": mailing.pk,
        "delivery_id": delivery.pk,
        "conversation_id": StepRun.objects.get(pk=delivery.source_id).enrollment.conversation_id,
        "link_kind": "link",
        "link_id": link.pk,
        "link_url": "https://shop.example/p?who=Ada",
        "ip": "203.0.113.9",
        "user_agent": "Mail/1.0",
    }
    assert second.details["link_url"] == "https://shop.example/sale"


def test_an_altered_forged_or_borrowed_link_is_refused_and_records_nothing(
    shop, mailing, smtp_server, client
):
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    html = html_of(email)
    click = path_of(links(html, "c")[0])
    token = click.split("/")[3]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/t/c/{altered}/").status_code == 404
    # An open token is no click token, and the reverse.
    open_token = path_of(links(html, "o")[0]).split("/")[3]
    assert client.get(f"/t/c/{open_token}/").status_code == 404
    assert client.get(f"/t/o/{token}/").status_code == 404
    # A link of another message cannot be reached through this email.
    elsewhere = MessageLink.objects.create(
        message=MessageFactory(list=shop), url="https://evil.example/", url_hash="e"
    )
    delivery = Delivery.objects.get()
    borrowed = make_token("click", delivery.pk, elsewhere.pk)
    assert client.get(f"/t/c/{borrowed}/").status_code == 404
    assert client.get("/t/u/not-a-token/").status_code == 404
    assert client.post("/t/u/not-a-token/").status_code == 404
    assert not contact.activities.exclude(
        kind__in=[ActivityKind.SUBSCRIBED, ActivityKind.PROFILE_UPDATED, ActivityKind.EMAIL_SENT]
    ).exists()


def test_the_open_pixel_is_an_image_and_records_an_open(shop, mailing, smtp_server, client):
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    pixel = path_of(links(html_of(email), "o")[0])
    response = client.get(pixel, HTTP_USER_AGENT="Mail/1.0")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    (opened,) = activities(contact, ActivityKind.EMAIL_OPENED)
    assert opened.details["message_id"] == mailing.pk
    assert opened.details["user_agent"] == "Mail/1.0"
    assert opened.details["ip"] == "127.0.0.1"


def test_the_browser_link_shows_the_email_as_sent_and_records_a_browser_click(
    shop, mailing, smtp_server, client
):
    contact, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    update_profile(contact=contact, values={"First Name": "Changed"})
    response = client.get(path_of(links(html_of(email), "v")[0]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Hi Ada" in page and "Changed" not in page
    assert links(page, "c") == links(html_of(email), "c")  # its links are tracked too
    assert links(page, "o") == []  # viewing it online is not an open of the email
    (clicked,) = activities(contact, ActivityKind.EMAIL_CLICKED)
    assert clicked.details["link_kind"] == "browser"
    assert "link_id" not in clicked.details


def test_the_pass_along_link_shows_the_email_and_records_a_pass_along_click(
    shop, mailing, smtp_server, client
):
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    response = client.get(path_of(links(html_of(email), "f")[0]))
    assert response.status_code == 200
    assert "Hi Ada" in response.content.decode()
    (clicked,) = activities(contact, ActivityKind.EMAIL_CLICKED)
    assert clicked.details["link_kind"] == "pass_along"


def test_the_unsubscribe_page_asks_first_and_its_button_unsubscribes(
    shop, mailing, smtp_server, client
):
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    page = path_of(links(html_of(email), "u")[0])
    response = client.get(page)
    assert response.status_code == 200
    assert "ada@example.com" in response.content.decode()
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED  # a link scanner's GET changes nothing
    response = client.post(page)
    assert response.status_code == 200
    assert "unsubscribed" in response.content.decode()
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.unsubscribe_method == UnsubscribeMethod.UNSUBSCRIBE_LINK
    (unsubscribed,) = activities(contact, ActivityKind.UNSUBSCRIBED)
    assert unsubscribed.details["message_id"] == mailing.pk
    assert unsubscribed.details["delivery_id"] == Delivery.objects.get().pk
    # Again: still unsubscribed, nothing more recorded.
    assert client.post(page).status_code == 200
    assert client.get(page).status_code == 200
    assert len(activities(contact, ActivityKind.UNSUBSCRIBED)) == 1


def test_a_one_click_post_from_a_mail_provider_unsubscribes_without_a_csrf_token(
    shop, mailing, smtp_server
):
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    target = email["List-Unsubscribe"].strip().strip("<>")
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(path_of(target), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.unsubscribe_method == UnsubscribeMethod.ONE_CLICK


def test_links_of_sent_emails_survive_a_secret_key_rotation(settings):
    settings.SECRET_KEY = "old-" + "k" * 50
    token = make_token("click", 12, 34)
    assert read_token("click", token) == [12, 34]
    assert read_token("open", token) is None
    settings.SECRET_KEY = "new-" + "k" * 50
    assert read_token("click", token) is None
    settings.SECRET_KEY_FALLBACKS = ["old-" + "k" * 50]
    assert read_token("click", token) == [12, 34]
    assert read_token("click", token.replace("12", "13", 1)) is None


def test_a_token_is_hmac_sha256_of_its_ids_so_links_already_sent_keep_working(settings):
    import base64
    import hashlib
    import hmac

    key = hashlib.sha256(f"emails.tracking.click:{settings.SECRET_KEY}".encode()).digest()
    mac = hmac.new(key, b"12-34", hashlib.sha256).digest()[:16]
    assert make_token("click", 12, 34) == "12-34." + base64.urlsafe_b64encode(mac).decode().rstrip(
        "="
    )
    assert read_token("click", make_token("click", 12, 34)) == [12, 34]


def test_a_link_written_with_amp_in_html_leads_where_a_browser_would_go(shop, smtp_server):
    """``href="…?a=1&amp;b=2"`` is HTML for ``…?a=1&b=2``: the click leads
    there, and the same address in the text part is the same link."""
    from conductor.models import StepKind
    from conductor.versions import publish
    from tests.factories import conversation_with_steps

    message = MessageFactory.create(
        list=shop,
        html_body='<a href="https://shop.example/p?a=1&amp;b=2">Sale</a>',
        text_body="Sale: https://shop.example/p?a=1&b=2",
    )
    conversation, _ = conversation_with_steps(
        shop, (StepKind.MESSAGE, {"message": message.pk}), (StepKind.TERMINATE, {})
    )
    publish(conversation)
    _, email = send_to(shop, smtp_server, "ada@example.com")

    (in_html,) = links(html_of(email), "c")
    (in_text,) = links(text_of(email), "c")
    response = Client().get(path_of(in_html))
    assert response["Location"] == "https://shop.example/p?a=1&b=2"
    assert list(MessageLink.objects.values_list("url", flat=True)) == [
        "https://shop.example/p?a=1&b=2"
    ]
    assert read_token("click", in_html.rstrip("/").rsplit("/", 1)[1]) == read_token(
        "click", in_text.rstrip("/").rsplit("/", 1)[1]
    )
