"""A message a marketer can write and trust: the bodies in code editors with
the list's merge fields beside them, the HTML's <style> rules inlined for
email clients, and a text part made from the HTML when the message has
none, its links tracked as the HTML's are. Emails go out through the real
sending path to a real SMTP server."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from conductor.models import StepKind
from conductor.versions import publish
from emails.models import Message
from emails.render import MessageTemplates
from tests.browser import log_in
from tests.factories import MessageFactory, conversation_with_steps
from tests.smtp import text_of
from tests.test_security_admin_permissions import staff
from tests.tracking_helpers import links, path_of, send_to

pytestmark = pytest.mark.django_db

STYLED = """<!DOCTYPE html>
<html><head><title>{{ list.name }}</title>
<style>p { color: red } .button { font-weight: bold }</style></head>
<body>
<p>Hi {{ profile.first_name }}</p>
<table>{% for size in "SML" %}<tr><td>Size {{ size }}</td></tr>{% endfor %}</table>
{% if profile.points > 10 %}<p>Many points</p>{% else %}<p>Few points</p>{% endif %}
<a class="button" href="https://shop.example/p?who={{ profile.first_name }}&src=mail">For you</a>
<a href="{{ links.unsubscribe }}">Leave</a>
</body></html>"""

HTML_ONLY = """<html><body>
<h1>Autumn sale</h1>
<p>Hello {{ profile.first_name }}, the sale starts today.</p>
<p><a href="https://shop.example/sale">Shop the sale</a></p>
</body></html>"""


def mailing(shop, *, html_body: str, text_body: str = "") -> Message:
    """A published conversation sending one message to each new subscriber."""
    message = MessageFactory.create(
        list=shop, subject="Sale", html_body=html_body, text_body=text_body
    )
    send = (StepKind.MESSAGE, {"message": message.pk})
    conversation, _ = conversation_with_steps(shop, send, (StepKind.TERMINATE, {}), name="Sale")
    publish(conversation)
    return message


class _Styles(HTMLParser):
    """The style attribute of each element of an HTML email, by tag, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs).get("style")))

    def of(self, tag: str) -> list[str | None]:
        return [style for found, style in self.found if found == tag]


# --- CSS inlined ----------------------------------------------------------------------


def test_the_style_rules_are_inlined_into_the_delivered_html(shop, smtp_server):
    mailing(shop, html_body="<style>p{color:red}</style><p>Hi {{ profile.first_name }}</p>")
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    html = text_of(email, "html")
    assert re.search(r'<p style="color: red;?">Hi Ada</p>', html), html
    assert "<style>p{color:red}</style>" in html  # kept for clients that read media queries


def test_merge_fields_tags_and_tracked_links_survive_inlining(shop, smtp_server, client):
    message = mailing(shop, html_body=STYLED, text_body="Hi {{ profile.first_name }}")
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    html = text_of(email, "html")
    styles = _Styles(html)
    assert styles.of("p")[:2] == ["color: red;", "color: red;"]
    assert "Hi Ada" in html and "Few points" in html and "Many points" not in html
    assert "<title>Shop</title>" in html
    # The loop between table rows stays in the table: one row per size.
    assert re.findall(r"<td>Size (\w)</td>", html) == ["S", "M", "L"]
    (tracked,) = links(html, "c")
    assert client.get(path_of(tracked))["Location"] == "https://shop.example/p?who=Ada&src=mail"
    assert "font-weight: bold" in (styles.of("a")[0] or "")
    assert links(html, "u")  # {{ links.unsubscribe }} in an href, filled in
    # Inlined once, when the message's templates are compiled, not for each email.
    assert 'style="color: red;"' in MessageTemplates(message).html.source


def test_a_test_send_gets_the_inlined_html_and_a_text_part(admin_client, shop, smtp_server):
    styled = HTML_ONLY.replace("<html>", "<html><head><style>h1 { color: navy }</style></head>")
    message = MessageFactory.create(list=shop, subject="Sale", html_body=styled, text_body="")
    response = admin_client.post(
        f"/admin/emails/message/{message.pk}/test-send/", {"email": "me@elsewhere.example"}
    )
    assert response.status_code == 302
    (email,) = smtp_server.messages
    assert '<h1 style="color: navy;">Autumn sale</h1>' in text_of(email, "html")
    text = text_of(email)
    assert "Hello , the sale starts today." in text  # no contact of that address: empty
    assert "Shop the sale <https://shop.example/sale>" in text


def test_a_tag_inside_an_elements_brackets_is_refused_when_styles_are_inlined(shop):
    message = Message(
        list=shop,
        name="Rows",
        subject="Rows",
        html_body='<style>td{color:red}</style><table><tr><td {% if 1 %}class="a"{% endif %}>'
        "x</td></tr></table>",
    )
    with pytest.raises(ValidationError) as refused:
        message.full_clean()
    (problem,) = refused.value.message_dict["html_body"]
    assert problem.startswith("The <style> rules cannot be copied into the elements")


# --- The text part made from the HTML -------------------------------------------------


def test_an_html_only_message_gets_a_text_part_with_its_merge_fields_and_tracked_links(
    shop, smtp_server, client
):
    mailing(shop, html_body=HTML_ONLY)
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    text, html = text_of(email), text_of(email, "html")
    assert text.startswith("Autumn sale\r\n\r\nHello Ada")  # the heading on its own line
    assert "Hello Ada, the sale starts today." in text
    assert "<p>" not in text
    (in_text,) = links(text, "c")
    assert f"Shop the sale <{in_text}>" in text
    assert in_text == links(html, "c")[0]  # the same tracked link as the HTML's
    assert client.get(path_of(in_text))["Location"] == "https://shop.example/sale"
    assert len(links(text, "u")) == 1  # the footer's unsubscribe link, once


def test_a_text_part_made_from_html_with_an_unsubscribe_link_gets_no_second_one(shop, smtp_server):
    mailing(shop, html_body='<p>Hi</p><a href="{{ links.unsubscribe }}">Unsubscribe here</a>')
    _, email = send_to(shop, smtp_server, "ada@example.com")
    text = text_of(email)
    (unsubscribe,) = links(text, "u")
    assert f"Unsubscribe here <{unsubscribe}>" in text


def test_a_message_with_neither_body_is_refused(shop, admin_client):
    message = Message(list=shop, name="Empty", subject="Hi", html_body="", text_body="  ")
    with pytest.raises(ValidationError) as refused:
        message.full_clean()
    assert refused.value.message_dict == {
        "text_body": ["Write an HTML body or a text body (or both)."]
    }
    response = admin_client.post(
        "/admin/emails/message/add/",
        {"list": shop.pk, "name": "Empty", "subject": "Hi", "html_body": "", "text_body": ""},
    )
    assert response.status_code == 200
    assert "Write an HTML body or a text body (or both)." in response.content.decode()
    assert not Message.objects.exists()


def test_an_html_only_message_is_saved_and_its_merge_fields_still_checked(shop, admin_client):
    form = {"list": shop.pk, "name": "Sale", "subject": "Sale", "text_body": ""}
    response = admin_client.post(
        "/admin/emails/message/add/", {**form, "html_body": "<p>Hi {{ profile.firstname }}</p>"}
    )
    assert "did you mean {{ profile.first_name }}?" in response.content.decode()
    response = admin_client.post(
        "/admin/emails/message/add/", {**form, "html_body": "<p>Hi {{ profile.first_name }}</p>"}
    )
    assert response.status_code == 302
    assert Message.objects.get().text_body == ""


# --- The form: editors and merge fields -----------------------------------------------


def test_the_change_page_has_the_editors_and_the_lists_merge_fields(shop, admin_client):
    message = MessageFactory.create(list=shop, html_body="<p>Hi</p>", text_body="Hi")
    page = admin_client.get(f"/admin/emails/message/{message.pk}/change/").content.decode()
    for asset in ("django_ace/ace/ace.js", "django_ace/ace/mode-django.js", "django_ace/widget.js",
                  "emails/message_form.js", "emails/message_form.css"):  # fmt: skip
        assert f"/static/{asset}" in page
    assert re.search(r'<div class="django-ace-widget loading"[^>]* data-mode="django"', page)
    # Without script the plain text area is there, with the body, and is what the form sends.
    assert re.search(r'<textarea name="html_body"[^>]*>\s*&lt;p&gt;Hi&lt;/p&gt;</textarea>', page)
    button = re.search(r'data-merge-field="\{\{ profile.first_name \}\}">(.*?)</button>', page)
    assert button is not None and "First Name" in button[1]
    for field in ("{{ email }}", "{{ list.name }}", "{{ trigger.kind }}", "{{ links.unsubscribe }}",
                  "{{ links.browser }}", "{{ links.pass_along }}"):  # fmt: skip
        assert f'data-merge-field="{field}"' in page
    assert "The data of the event that brought the contact in." in page
    assert "<script>" not in page.split("<body")[1]  # the CSP allows no inline script


def test_the_add_page_asks_for_the_list_first(admin_client, shop):
    page = admin_client.get("/admin/emails/message/add/").content.decode()
    assert "Choose the list and save to see its merge fields." in page
    assert "{{ profile." not in page
    assert 'data-merge-field="{{ email }}"' in page


def test_a_staff_member_who_may_only_view_messages_gets_no_editor_and_cannot_save(shop):
    message = MessageFactory.create(list=shop, html_body="<p>Hi</p>", text_body="Hi")
    viewer = staff("emails.view_message")
    url = f"/admin/emails/message/{message.pk}/change/"
    page = viewer.get(url).content.decode()
    assert "&lt;p&gt;Hi&lt;/p&gt;" in page
    assert "data-merge-field" not in page and "django-ace-widget" not in page
    response = viewer.post(url, {"list": shop.pk, "name": "x", "subject": "x", "text_body": "x"})
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.text_body == "Hi"


# --- In a real browser -----------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_merge_field_clicked_in_the_picker_lands_at_the_cursor_and_is_saved(
    live_server, browser_page, shop
):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    message = MessageFactory.create(list=shop, name="Welcome", html_body="", text_body="Hi")
    page = browser_page
    problems: list[str] = []  # script errors, and files of the page that did not load
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    page.on(  # a script or style the CSP refused
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/emails/message/{message.pk}/change/")
    editor = page.locator(".field-html_body .django-ace-widget .ace_content")
    editor.click()
    page.keyboard.type("<p>Hello ")
    page.click("button[data-merge-field='{{ profile.first_name }}']")
    page.keyboard.type("!")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    message.refresh_from_db()
    assert "<p>Hello {{ profile.first_name }}!" in message.html_body
    assert [p for p in problems if not p.endswith("/favicon.ico")] == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_script_the_bodies_are_plain_text_areas_that_save(live_server, browser_page, shop):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    message = MessageFactory.create(list=shop, name="Welcome", html_body="<p>Old</p>")
    browser = browser_page.context.browser
    assert browser is not None
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, live_server.url, "staff", "s3cret-pass")
        page.goto(f"{live_server.url}/admin/emails/message/{message.pk}/change/")
        assert page.is_hidden(".field-html_body .django-ace-widget")
        assert page.input_value("#id_html_body") == "<p>Old</p>"
        page.fill("#id_html_body", "<p>New, {{ profile.first_name }}</p>")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist .success")
    finally:
        context.close()
    message.refresh_from_db()
    assert message.html_body == "<p>New, {{ profile.first_name }}</p>"
