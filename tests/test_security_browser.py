"""The site's pages work in Chromium under their Content-Security-Policy:
the admin (its editor, diagram and step forms), the browsable API and its
documentation, and the pages behind an email's links. A violation of the
policy fails the test with what was blocked. And a person who mistypes the
password too often is locked out, with a page that says why."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page

from conductor.models import Conversation
from contacts.models import SubscriptionState
from contacts.optin.confirmation import confirmation_url
from tests.browser import log_in
from tests.factories import ContactFactory
from tests.tracking_helpers import html_of, links, publish_mailing, send_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Records every policy violation in the page, before any of its scripts run.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def visit(page: Page, url: str, console: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    assert "default-src" in response.headers.get("content-security-policy", ""), url
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__violations")
    assert violations == [], (url, violations)
    refused = [line for line in console if "Content Security Policy" in line]
    assert refused == [], (url, refused)


def test_the_admin_the_api_pages_and_an_emails_pages_work_under_the_policy(
    live_server, browser_page, shop, smtp_server, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    message = publish_mailing(shop)
    _, email = send_to(shop, smtp_server, "ada@example.com")
    conversation = Conversation.objects.get()
    page = browser_page
    console: list[str] = []
    page.on("console", lambda entry: console.append(entry.text))
    page.context.add_init_script(WATCH_VIOLATIONS)
    log_in(page, live_server.url, "staff", "s3cret-pass")

    base = live_server.url
    for path in (
        "/admin/",
        f"/admin/conductor/conversation/{conversation.pk}/change/",
        f"/admin/emails/message/{message.pk}/change/",
        f"/admin/emails/message/{message.pk}/test-send/",
        "/admin/contacts/contact/",
        f"/email/v1/List/{shop.pk}/Contact",
        "/email/v1/schema/docs/",
        "/email/v1/schema/redoc/",
    ):
        visit(page, f"{base}{path}", console)
    # Swagger UI drew the operations with its script file (no inline script allowed).
    page.goto(f"{base}/email/v1/schema/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)

    # The step form's script (a file) shows only the chosen action's fields.
    main = conversation.versions.get(published_at__isnull=True).threads.get(is_main=True)
    visit(page, f"{base}/admin/conductor/step/add/?thread={main.pk}&kind=Action", console)
    page.select_option("#id_action", "SetValue")
    assert page.is_hidden("#id_weights")
    assert page.is_visible("#id_value")

    # The pages behind the email's links: the browser version and unsubscribe.
    html = html_of(email)
    visit(page, links(html, "v")[0], console)
    assert page.get_by_text("Hi Ada").is_visible()
    visit(page, links(html, "u")[0], console)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__violations") == []

    # The double opt-in confirmation page, and its button.
    pending = ContactFactory(list=shop, email="bo@example.com", state=SubscriptionState.PENDING)
    visit(page, confirmation_url(pending), console)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__violations") == []
    pending.refresh_from_db()
    assert pending.state == SubscriptionState.SUBSCRIBED


def test_a_staff_sign_in_is_locked_after_too_many_wrong_passwords(
    live_server, browser_page, settings
):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    page = browser_page
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "staff")
        page.fill("#id_password", "wrong")
        page.click("input[type=submit]")
        assert page.locator(".errornote").is_visible()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "wrong")
    with page.expect_response(lambda r: r.url.endswith("/admin/login/")) as answer:
        page.click("input[type=submit]")
    assert answer.value.status == 429
    assert page.get_by_role("heading", name="Too many failed sign-ins").is_visible()
    # Even the right password is refused until the cool-off ends.
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    assert page.get_by_role("heading", name="Too many failed sign-ins").is_visible()
