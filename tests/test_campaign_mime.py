"""The campaign email's own MIME writer (``wire_bytes``, what the worker
sends over SMTP), read back with the standard library; Django's own
``message()``, which every other backend sends, says the same."""

from __future__ import annotations

import email
import email.policy
from email.utils import formataddr

import pytest
from django.core.mail import BadHeaderError

from emails.mime import CampaignEmail


def parsed(message: CampaignEmail):
    on_the_wire = message.wire_bytes()
    assert max(len(line) for line in on_the_wire.split(b"\r\n")) <= 998
    assert b"\n" not in on_the_wire.replace(b"\r\n", b"")  # every line ends in CRLF
    # Read back as a mail client stores it: lines ending in "\n".
    raw = message.wire_bytes(linesep="\n")
    return email.message_from_bytes(raw, policy=email.policy.default)


def parsed_by_django(message: CampaignEmail):
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


def test_text_and_html_parts_headers_and_non_ascii_read_back_exactly():
    text = "Grüße, Zoë!\n.a line starting with a dot\nFrom the start of a line\n" + "é" * 300
    html = "<p>Grüße <a href='https://x.example/?a=1&b=2'>link</a></p>" + "<br>" * 200
    message = CampaignEmail(
        subject="Ihr Angebot für Zoë, nur heute " + "sehr lange Betreffzeile " * 60,
        body=text,
        from_email=formataddr(("Café Zoë", "news@shop.example")),
        to=["ada@example.com"],
        headers={"Message-ID": "<delivery-1@shop.example>", "List-Unsubscribe-Post": "One"},
    )
    message.attach_alternative(html, "text/html")
    got = parsed(message)
    assert got["Subject"] == message.subject
    assert got["From"].addresses[0].display_name == "Café Zoë"
    assert got["From"].addresses[0].addr_spec == "news@shop.example"
    assert got["To"] == "ada@example.com"
    assert got["Message-ID"] == "<delivery-1@shop.example>"
    assert got["Date"]
    assert got.get_body(preferencelist=("plain",)).get_content() == text
    assert got.get_body(preferencelist=("html",)).get_content() == html
    # Django's own builder, which the console, file and API backends send, agrees.
    django = parsed_by_django(message)
    # Django folds a long encoded subject right after "Subject:": it reads back
    # with a leading space, which mail clients do not show.
    assert django["Subject"].lstrip() == message.subject
    assert django["Message-ID"] == "<delivery-1@shop.example>"
    assert django["From"].addresses[0].display_name == "Café Zoë"
    assert django.get_body(preferencelist=("plain",)).get_content() == text
    assert django.get_body(preferencelist=("html",)).get_content() == html


def test_a_text_only_email_is_a_single_part():
    got = parsed(
        CampaignEmail(
            subject="Hi", body="Plain\r\nlines", from_email="a@x.example", to=["b@y.example"]
        )
    )
    assert not got.is_multipart()
    assert got.get_content() == "Plain\nlines"
    django = parsed_by_django(
        CampaignEmail(
            subject="Hi", body="Plain\nlines", from_email="a@x.example", to=["b@y.example"]
        )
    )
    assert not django.is_multipart()
    assert (django["Subject"], django.get_content()) == ("Hi", "Plain\nlines")


def test_a_newline_in_a_header_is_refused():
    message = CampaignEmail(
        subject="Hi\nBcc: x@evil.example", body="x", from_email="a@x.example", to=["b@y.example"]
    )
    with pytest.raises(BadHeaderError):
        message.wire_bytes()
    with pytest.raises(BadHeaderError):  # and on every other backend's path
        message.message()


def test_ascii_with_short_lines_goes_7bit_and_anything_else_quoted_printable():
    message = CampaignEmail(
        subject="Hi", body="Plain ASCII\n.dot\n", from_email="a@x.example", to=["b@y.example"]
    )
    message.attach_alternative("<p>" + "x" * 950 + "</p>", "text/html")
    got = parsed(message)
    text, html = (got.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert text["Content-Transfer-Encoding"] == "7bit"
    assert text.get_content() == "Plain ASCII\n.dot\n"
    assert html["Content-Transfer-Encoding"] == "quoted-printable"  # a line over 900
    assert html.get_content() == "<p>" + "x" * 950 + "</p>"
    nul = parsed(CampaignEmail(subject="Hi", body="a\0b", from_email="a@x.example", to=["b@y"]))
    assert nul["Content-Transfer-Encoding"] == "quoted-printable"
