"""A visitor on a shop's own site (another local origin, served here) signs
up through a subscription point in a real browser: the pop-up that one
script tag draws, and the embedded HTML form. The contact is subscribed
with the profile value they typed, the point's event fires, the welcome
conversation picks the pop-up's variant of its email, and the pop-up never
shows again. A site the point does not allow gets no cross-origin grant:
its visitor is told the signup was not sent, and nothing is written."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from conductor.engine.tasks import run_due
from conductor.models import Enrollment, StepKind, TriggerKind
from conductor.versions import publish
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from lists.models import List, ProfileField
from signups import snippets
from signups.models import PointField, PopupOpening, Signup, SignupOutcome, SubscriptionPoint
from signups.services import save_point
from tests.factories import (
    ConversationFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    TriggerFactory,
    add_step,
    main_thread,
)
from tests.smtp import text_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADING = "Get 10% off your first order"
THANKS = "Thank you! Your code is on its way."
#: The shop's own stylesheet, hostile on purpose: the pop-up lives in a
#: shadow root, so none of it reaches the pop-up.
SHOP_CSS = b"""
body { font-family: Georgia, serif; background: #fdf6e3; }
dialog, form, input, label, button, h2, p { display: none !important; }
"""


class ShopSite:
    """A shop's site on its own local origin (127.0.0.1 and a port of its
    own; the platform is at localhost): one page and its stylesheet, under
    a strict Content-Security-Policy that allows no inline style, and the
    platform's origin for scripts, posts and forms only."""

    def __init__(self, platform: str) -> None:
        self.page = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/shop.css"):
                    body, kind = SHOP_CSS, "text/css"
                else:
                    body, kind = site.page.encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header(
                    "Content-Security-Policy",
                    f"default-src 'self'; script-src 'self' {platform}; "
                    f"connect-src 'self' {platform}; style-src 'self'; "
                    f"form-action 'self' {platform}",
                )
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's output is for the test

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, snippet: str, *, css: bool = True) -> str:
        """Serve a product page holding ``snippet``; returns its address."""
        link = '<link rel="stylesheet" href="/shop.css">' if css else ""
        self.page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Demo shop</title>{link}</head><body>"
            f"<h1>Linen shirts</h1><p>Soft, breathable, made to last.</p>"
            f'<a href="/basket" id="basket">Basket</a>'
            f"<footer>{snippet}</footer></body></html>"
        )
        return self.origin + "/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop_sites(live_server, settings) -> Iterator[Callable[[], ShopSite]]:
    """Start shop sites on origins of their own; the platform's public
    address (in snippets and the pop-up's post) is the live server's."""
    settings.PUBLIC_BASE_URL = live_server.url
    started: list[ShopSite] = []

    def start() -> ShopSite:
        started.append(ShopSite(live_server.url))
        return started[-1]

    yield start
    for site in started:
        site.stop()


def point(
    email_list: List, name: str, first_name: ProfileField, *, required: bool, origin: str
) -> SubscriptionPoint:
    """A point asking for First Name, allowing ``origin``, with its own event."""
    made = save_point(
        SubscriptionPoint(
            list=email_list,
            name=name,
            heading=HEADING,
            intro="Join our newsletter for new arrivals and a welcome code.",
            button_label="Send me the code",
            thank_you_text=THANKS,
            allowed_origins=origin,
            popup_delay_seconds=1,
        )
    )
    PointField.objects.create(point=made, field=first_name, required=required)
    return made


def test_a_visitor_signs_up_in_the_pop_up_and_gets_the_pop_up_welcome(
    shop_sites, browser_page: Page, smtp_server
):
    shop_site = shop_sites()
    shop = ListFactory.create(name="Shop")
    first_name = ProfileFieldFactory.create(list=shop, group__list=shop, name="First Name")
    popup = point(shop, "Pop-up", first_name, required=True, origin=shop_site.origin)
    footer = point(shop, "Footer", first_name, required=False, origin=shop_site.origin)

    # The welcome conversation: entered by either point's event; the pop-up's
    # entrants get the email with the code the pop-up promised.
    conversation = ConversationFactory.create(list=shop, name="Welcome")
    by_popup = TriggerFactory.create(conversation=conversation, event=popup.event)
    TriggerFactory.create(conversation=conversation, event=footer.event)
    welcome = MessageFactory.create(
        list=shop, name="Welcome", subject="Welcome", text_body="Welcome!"
    )
    ten_off = MessageFactory.create(
        list=shop,
        name="Welcome, here is 10% off",
        subject="Welcome, here is 10% off",
        text_body="Welcome! Your 10% off code: SAVE10",
    )
    thread = main_thread(conversation)
    variants = [{"trigger": by_popup.pk, "message": ten_off.pk}]
    add_step(thread, StepKind.MESSAGE, message=welcome.pk, variants=variants)
    add_step(thread, StepKind.TERMINATE)
    publish(conversation)

    # The shop's page holds the pop-up's one script tag; it opens after a second.
    page = browser_page
    address = shop_site.serve(snippets.popup_tag(popup))
    opened_at = time.monotonic()
    page.goto(address)
    page.focus("#basket")
    dialog = page.get_by_role("dialog", name=HEADING)
    expect(dialog).to_be_visible(timeout=5000)
    assert time.monotonic() - opened_at >= 1.0
    # Drawn whole despite the shop's stylesheet and its CSP without inline styles.
    assert dialog.evaluate("d => getComputedStyle(d).display") == "block"
    expect(dialog.get_by_role("button", name="Send me the code")).to_be_visible()
    expect(dialog.get_by_label("Email address")).to_be_focused()
    expect(dialog.locator("input[name=website]")).not_to_be_in_viewport()  # the honeypot

    # Typed as a person types (the form refuses posts sent within 2 seconds),
    # and sent without the required First Name: refused next to that field.
    dialog.get_by_label("Email address").press_sequentially("grace@example.com", delay=120)
    dialog.get_by_role("button", name="Send me the code").click()
    name_box = dialog.get_by_label("First Name")
    expect(name_box).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator(f"#{name_box.get_attribute('id')}-error")).to_have_text(
        "This field is required."
    )
    expect(name_box).to_be_focused()
    assert not Contact.objects.exists()
    expect(dialog.get_by_label("Email address")).to_have_value("grace@example.com")

    name_box.press_sequentially("Grace", delay=50)
    dialog.get_by_role("button", name="Send me the code").click()
    expect(dialog.get_by_role("status")).to_have_text(THANKS)
    expect(dialog.locator("form")).to_have_count(0)

    # Subscribed with her First Name; the pop-up's event fired.
    grace = Contact.objects.get(list=shop, email="grace@example.com")
    assert grace.state == SubscriptionState.SUBSCRIBED
    assert grace.profile[first_name.key] == "Grace"
    fired = Activity.objects.get(contact=grace, kind=ActivityKind.EVENT_FIRED)
    assert fired.details["event_id"] == popup.event_id
    assert fired.details["data"] == {"subscription_point": "Pop-up"}
    assert list(Signup.objects.values_list("point__name", "outcome")) == [
        ("Pop-up", SignupOutcome.SUBSCRIBED)
    ]

    # The worker runs: she entered through the pop-up's trigger and got its variant.
    run_due()
    enrollment = Enrollment.objects.get(contact=grace, conversation=conversation)
    assert (enrollment.trigger_id, enrollment.trigger_kind) == (
        by_popup.pk,
        TriggerKind.EXTERNAL_EVENT,
    )
    (received,) = smtp_server.messages
    assert (received["To"], received["Subject"]) == (
        "grace@example.com",
        "Welcome, here is 10% off",
    )
    assert "Your 10% off code: SAVE10" in text_of(received)

    # Closed with Escape: focus goes back where it was; then, on the next
    # visit, the script loads but the pop-up stays away, however long she stays.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator("#basket")).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith("/popup.js")) as script:
        page.reload()
    assert script.value.status == 200
    page.wait_for_timeout(2500)
    expect(page.locator("retailmail-signup")).to_have_count(0)
    assert page.evaluate(f"localStorage.getItem('retailmail-signup-{popup.key}')")


def test_the_embedded_form_signs_up_and_a_site_not_allowed_gets_no_grant(
    shop_sites, browser_page: Page
):
    allowed, elsewhere = shop_sites(), shop_sites()
    shop = ListFactory.create(name="Shop")
    first_name = ProfileFieldFactory.create(list=shop, group__list=shop, name="First Name")
    footer = point(shop, "Footer", first_name, required=False, origin=allowed.origin)
    popup = point(shop, "Pop-up", first_name, required=True, origin=allowed.origin)
    page = browser_page

    # The footer's HTML form, pasted into the shop's page (its own styles apply).
    page.goto(allowed.serve(snippets.html_form(footer), css=False))
    form = page.locator(f"form[data-signup-point='{footer.key}']")
    expect(form.locator("input[name=token]")).not_to_have_value("")  # form.js ran
    expect(form.locator("[data-signup-honeypot]")).not_to_be_in_viewport()
    form.get_by_label("Email address").press_sequentially("ada@example.com", delay=120)
    form.get_by_label("First Name").fill("Ada")
    form.get_by_role("button", name="Send me the code").click()
    expect(page.locator(".thanks")).to_have_text(THANKS)
    assert page.url == snippets.hosted_url(footer)
    ada = Contact.objects.get(list=shop, email="ada@example.com")
    assert (ada.state, ada.profile[first_name.key]) == (SubscriptionState.SUBSCRIBED, "Ada")
    assert (
        Activity.objects.get(contact=ada, kind=ActivityKind.EVENT_FIRED).details["event_id"]
        == footer.event_id
    )

    # The pop-up on a site the point does not allow: it shows (a script tag
    # loads anywhere) but its post gets no cross-origin grant. The visitor is
    # told, keeps what she typed, and nothing is written.
    page.goto(elsewhere.serve(snippets.popup_tag(popup)))
    dialog = page.get_by_role("dialog", name=HEADING)
    expect(dialog).to_be_visible(timeout=5000)
    dialog.get_by_label("Email address").press_sequentially("eve@example.com", delay=120)
    dialog.get_by_label("First Name").fill("Eve")
    dialog.get_by_role("button", name="Send me the code").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Your signup could not be sent")
    expect(dialog.get_by_label("Email address")).to_have_value("eve@example.com")
    expect(dialog.get_by_label("First Name")).to_have_value("Eve")
    assert not Contact.objects.filter(email="eve@example.com").exists()
    assert not Signup.objects.filter(point=popup).exists()

    # The close button closes it, and closing counts as shown: not again.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    page.reload()
    page.wait_for_timeout(2000)
    expect(page.locator("retailmail-signup")).to_have_count(0)


def test_an_exit_intent_pop_up_waits_for_the_pointer_to_leave_and_remembers_without_storage(
    shop_sites, browser_page: Page
):
    site = shop_sites()
    shop = ListFactory.create(name="Shop")
    first_name = ProfileFieldFactory.create(list=shop, group__list=shop, name="First Name")
    popup = point(shop, "Pop-up", first_name, required=True, origin=site.origin)
    popup.popup_opening = PopupOpening.EXIT
    popup.save()
    page = browser_page
    # Storage refused, as some privacy settings do: a cookie remembers instead.
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', "
        "{get() { throw new DOMException('blocked', 'SecurityError'); }});"
    )
    address = site.serve(snippets.popup_tag(popup))

    def leave_through_the_top() -> None:
        page.mouse.move(300, 200)
        page.mouse.move(300, 5, steps=4)
        page.mouse.move(300, -20)

    page.goto(address)  # the load event waits for the script
    page.mouse.move(300, 300)
    page.wait_for_timeout(1500)  # past its delay: no matter, it waits for the exit
    expect(page.locator("retailmail-signup")).to_have_count(0)
    leave_through_the_top()
    expect(page.get_by_role("dialog", name=HEADING)).to_be_visible()
    assert f"retailmail-signup-{popup.key}=" in page.evaluate("document.cookie")

    page.reload()
    leave_through_the_top()
    page.wait_for_timeout(500)
    expect(page.locator("retailmail-signup")).to_have_count(0)
