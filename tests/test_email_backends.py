"""Every Django email backend sends campaign emails: through the worker's
real sending path, each puts the email where it keeps them. "Send a test"
works on the console. The development mailbox (``emails.mailbox``) keeps
what it is given and shows it to staff allowed to see it, the HTML in a
sandboxed frame. EMAIL_BACKEND picks any backend, and a wrong one stops
the start."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from config.env import env_dotted_path, import_dotted_path
from contacts.models import Contact
from emails.mailbox import MailboxBackend
from emails.mailbox import read as read_email
from emails.models import Delivery, DeliveryStatus, MailboxEmail
from emails.sending.delivery import send_deliveries
from tests.browser import log_in
from tests.factories import ContactFactory, ListFactory, MessageFactory
from tests.smtp import text_of
from tests.test_security_admin_permissions import staff

# The sending threads use database connections of their own: they must see
# what the test wrote, so no test transaction may hold it back.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
MAILBOX = "emails.mailbox.MailboxBackend"
SUBJECT = "Spring sale for ada@example.com"
TEXT_LINE = "Hello ada@example.com, the sale starts today."


def pending_delivery() -> Delivery:
    """A pending email to ada@example.com, with a text and an HTML body."""
    contact = ContactFactory.create(email="ada@example.com")
    message = MessageFactory.create(
        list=contact.list,
        subject="Spring sale for {{ email }}",
        text_body="Hello {{ email }}, the sale starts today.",
        html_body="<p>Hello <b>{{ email }}</b>, the sale starts today.</p>",
    )
    return Delivery.objects.create(
        source_type=ContentType.objects.get_for_model(Contact),
        source_id=contact.pk,
        message=message,
        contact=contact,
    )


def send_and_check_sent(delivery: Delivery) -> None:
    assert send_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == (DeliveryStatus.SENT, "")


# --- Through the worker's sending path, on each backend -------------------------


def test_the_console_backend_prints_the_email(settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    send_and_check_sent(pending_delivery())
    printed = capsys.readouterr().out
    assert f"Subject: {SUBJECT}" in printed
    assert TEXT_LINE in printed


def test_the_file_backend_writes_the_email_to_a_file(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "emails")
    send_and_check_sent(pending_delivery())
    (written,) = (tmp_path / "emails").iterdir()
    content = written.read_text()
    assert f"Subject: {SUBJECT}" in content
    assert TEXT_LINE in content


def test_the_memory_backend_keeps_the_email_in_the_outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_and_check_sent(pending_delivery())
    (sent,) = mail.outbox
    assert (sent.subject, sent.to) == (SUBJECT, ["ada@example.com"])
    assert TEXT_LINE in sent.body


def test_the_development_mailbox_keeps_the_email(settings):
    settings.EMAIL_BACKEND = MAILBOX
    send_and_check_sent(pending_delivery())
    (kept,) = MailboxEmail.objects.all()
    assert (kept.subject, kept.recipients) == (SUBJECT, "ada@example.com")
    read = read_email(bytes(kept.raw))
    assert ("Subject", SUBJECT) in read.headers
    assert TEXT_LINE in read.text
    assert "<b>ada@example.com</b>" in read.html


def test_the_smtp_backend_delivers_the_email_to_the_server(smtp_server):
    send_and_check_sent(pending_delivery())
    (sent,) = smtp_server.messages
    assert (sent["Subject"], sent["To"]) == (SUBJECT, "ada@example.com")
    assert TEXT_LINE in text_of(sent)
    assert "<b>ada@example.com</b>" in text_of(sent, "html")


# --- "Send a test" -------------------------------------------------------------


def test_send_a_test_works_on_the_console_backend(settings, admin_client, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    message = MessageFactory.create(list=ListFactory(), subject="Sale", text_body="See the sale.")
    response = admin_client.post(
        f"/admin/emails/message/{message.pk}/test-send/", {"email": "someone@elsewhere.example"}
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "Sent a test of" in page
    printed = capsys.readouterr().out
    assert "Subject: [Test] Sale" in printed
    assert "See the sale." in printed


# --- The development mailbox in the admin ---------------------------------------

HTML = '<p>Hello <b>Ada</b> &amp; friends</p><script>document.title = "ran"</script>'


def kept(subject: str = "Your spring sale", html: str = HTML) -> MailboxEmail:
    """An email with text and HTML, as the mailbox keeps it."""
    message = EmailMultiAlternatives(
        subject, "Hello Ada, the sale starts today.", "shop@example.com", ["ada@example.com"]
    )
    message.attach_alternative(html, "text/html")
    assert MailboxBackend().send_messages([message]) == 1
    return MailboxEmail.objects.get(subject=subject)


class Iframes(HTMLParser):
    """The attributes of each iframe of a page (values unescaped)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.found.append({name: value or "" for name, value in attrs})


def urls(kept: MailboxEmail) -> tuple[str, str]:
    base = "/admin/emails/mailboxemail/"
    return base, f"{base}{kept.pk}/change/"


def test_the_mailbox_is_refused_to_staff_without_the_view_permission():
    email_list, email_page = urls(kept())
    client = staff()
    assert client.get(email_list).status_code == 403
    assert client.get(email_page).status_code == 403


def test_the_mailbox_lists_its_emails_and_finds_them_by_address():
    ada, _ = kept("For Ada"), kept("For Bob")
    MailboxEmail.objects.filter(subject="For Bob").update(recipients="bob@example.com")
    client = staff("emails.view_mailboxemail")
    page = client.get("/admin/emails/mailboxemail/").content.decode()
    assert "For Ada" in page and "For Bob" in page
    found = client.get("/admin/emails/mailboxemail/?q=ada@").content.decode()
    assert "For Ada" in found and "For Bob" not in found
    assert client.get(f"/admin/emails/mailboxemail/{ada.pk}/change/").status_code == 200


def test_an_email_shows_its_headers_text_and_html_in_a_sandboxed_frame():
    email_page = urls(kept())[1]
    response = staff("emails.view_mailboxemail").get(email_page)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your spring sale" in page
    assert "shop@example.com" in page
    assert "Hello Ada, the sale starts today." in page
    (frame,) = Iframes(page).found
    assert "sandbox" in frame
    assert "allow-scripts" not in frame["sandbox"] and "allow-same-origin" not in frame["sandbox"]
    assert frame["srcdoc"].endswith(HTML)  # escaped in the page, exact once unescaped
    assert "<script>" not in page  # the email's script is only text of the attribute
    assert "&lt;script&gt;" in page


def test_the_mailbox_cannot_be_changed_and_is_emptied_with_the_delete_permission():
    kept_email = kept()
    _, email_page = urls(kept_email)
    viewer = staff("emails.view_mailboxemail")
    assert viewer.get("/admin/emails/mailboxemail/add/").status_code == 403
    assert viewer.post(email_page, {"subject": "Changed"}).status_code == 403
    delete = {"action": "delete_selected", "_selected_action": [kept_email.pk], "post": "yes"}
    assert viewer.post("/admin/emails/mailboxemail/", delete).status_code == 403
    assert MailboxEmail.objects.get().subject == "Your spring sale"
    deleter = staff("emails.view_mailboxemail", "emails.delete_mailboxemail")
    assert deleter.post("/admin/emails/mailboxemail/", delete).status_code == 302
    assert not MailboxEmail.objects.exists()


def test_a_test_sent_from_the_admin_lands_in_the_mailbox(settings, admin_client: Client):
    settings.EMAIL_BACKEND = MAILBOX
    message = MessageFactory.create(
        list=ListFactory(), subject="Sale", text_body="See the sale.", html_body="<p>Sale</p>"
    )
    admin_client.post(f"/admin/emails/message/{message.pk}/test-send/", {"email": "me@x.example"})
    (test,) = MailboxEmail.objects.all()
    assert (test.subject, test.recipients) == ("[Test] Sale", "me@x.example")
    html = email_message(bytes(test.raw)).get_body(preferencelist=("html",))
    assert html is not None and html.get_content() == "<p>Sale</p>"
    page = admin_client.get("/admin/emails/mailboxemail/").content.decode()
    assert "[Test] Sale" in page
    assert "Emails are kept here instead of sent" in page


def email_message(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.browser
def test_the_html_shows_in_the_browser_and_its_script_does_not_run(live_server, browser_page):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    shown = kept(html=HTML.replace('document.title = "ran"', "document.body.id = 'ran'"))
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/emails/mailboxemail/{shown.pk}/change/")
    frame = page.frame_locator("iframe.mailbox-html")
    assert frame.locator("b").inner_text() == "Ada"  # rendered, under the admin's CSP
    assert frame.locator("p").inner_text() == "Hello Ada & friends"
    assert frame.locator("body").get_attribute("id") is None  # the script never ran
    assert page.title() == "Your spring sale | View mailbox email | retailmail"


# --- EMAIL_BACKEND --------------------------------------------------------------


def test_a_backend_whose_module_does_not_exist_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_BACKEND", "emails.no_such_module.Backend")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_BACKEND.*no module emails.no_such"):
        env_dotted_path("EMAIL_BACKEND")
    monkeypatch.setenv("EMAIL_BACKEND", "no_such_package.mail.Backend")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_BACKEND.*cannot import"):
        env_dotted_path("EMAIL_BACKEND")
    monkeypatch.setenv("EMAIL_BACKEND", "not a path")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_BACKEND='not a path' is invalid"):
        env_dotted_path("EMAIL_BACKEND")


def test_a_backend_that_exists_is_taken_and_unset_is_empty(monkeypatch):
    monkeypatch.setenv("EMAIL_BACKEND", MAILBOX)
    assert env_dotted_path("EMAIL_BACKEND") == MAILBOX
    assert import_dotted_path("EMAIL_BACKEND", MAILBOX) is MailboxBackend
    monkeypatch.delenv("EMAIL_BACKEND")
    assert env_dotted_path("EMAIL_BACKEND") == ""


def test_a_wrong_class_name_is_refused_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_BACKEND.*NoSuchBackend"):
        import_dotted_path("EMAIL_BACKEND", "emails.mailbox.NoSuchBackend")


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process loading the settings and the apps, printing the backend."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"EMAIL_URL", "EMAIL_BACKEND", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings", **env)
    show = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.EMAIL_BACKEND, settings.EMAIL_HOST)"
    )
    return subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_email_backend_replaces_the_backend_of_email_url_and_a_wrong_one_stops_the_start():
    url = "smtp://mail.example.com:587"
    plain = start_django(EMAIL_URL=url)
    assert plain.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
    ]
    mailbox = start_django(EMAIL_URL=url, EMAIL_BACKEND=MAILBOX)
    assert mailbox.stdout.split() == [MAILBOX, "mail.example.com"]
    wrong = start_django(EMAIL_BACKEND="emails.mailbox.NoSuchBackend")
    assert wrong.returncode != 0
    assert "Environment variable EMAIL_BACKEND='emails.mailbox.NoSuchBackend'" in wrong.stderr
