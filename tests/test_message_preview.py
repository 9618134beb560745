"""A message's preview in the admin: the email as a contact of its list (or
sample data) would get it, at two widths, with its text and its links."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from contacts.models import Activity
from contacts.services import subscribe_contact, update_profile
from emails.models import Delivery, Message, MessageLink
from tests.factories import ListFactory, MessageFactory
from tests.test_security_admin_permissions import staff

pytestmark = pytest.mark.django_db

HTML = """<!DOCTYPE html><html><head><title>Sale</title><style>p { color: red }</style></head>
<body><div style="display:none">Up to 40% off, this weekend only.</div>
<p>Hi {{ profile.first_name }}, the autumn sale starts today.</p>
<a href="https://shop.example/p?points={{ profile.points }}">Your points</a>
<a href="mailto:help@shop.example">Help</a>
</body></html>"""
TEXT = (
    "Hi {{ profile.first_name }}, the autumn sale starts today: "
    "https://shop.example/p?points={{ profile.points }}"
)


@pytest.fixture
def message(shop) -> Message:
    return MessageFactory.create(
        list=shop, name="Autumn", subject="Sale for {{ profile.first_name }}", html_body=HTML,
        text_body=TEXT,
    )  # fmt: skip


def url(message: Message, email: str | None = None) -> str:
    query = "" if email is None else f"?email={email}"
    return f"/admin/emails/message/{message.pk}/preview/{query}"


def contact(shop, email: str, first_name: str, points: str):
    subscribed = subscribe_contact(email_list=shop, email=email, method="API").contact
    assert subscribed is not None, f"{email} was not subscribed"
    update_profile(contact=subscribed, values={"First Name": first_name, "Points": points})
    return subscribed


class Page(HTMLParser):
    """What a test reads of a page: its iframes' attributes (unescaped), the
    rows of its link table (cells' text), and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.frames: list[dict[str, str]] = []
        self.link_rows: list[list[str]] = []
        self.words: list[str] = []
        self._in_links = False
        self._cell: list[str] | None = None
        self.feed(html)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.words).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "iframe":
            self.frames.append(found)
        elif tag == "table":
            self._in_links = "preview-links" in found.get("class", "")
        elif tag == "tr" and self._in_links:
            self.link_rows.append([])
        elif tag == "td" and self._in_links:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.link_rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._in_links = False
            self.link_rows = [row for row in self.link_rows if row]  # the header's has no cells

    def handle_data(self, data: str) -> None:
        self.words.append(data)
        if self._cell is not None:
            self._cell.append(data)


def read(response) -> Page:
    assert response.status_code == 200
    return Page(response.content.decode())


def test_the_change_page_offers_the_preview_to_whoever_may_view_the_message(message):
    viewer = staff("emails.view_message")
    page = viewer.get(f"/admin/emails/message/{message.pk}/change/").content.decode()
    assert url(message) in page
    assert viewer.get(url(message)).status_code == 200


def test_staff_without_the_view_permission_get_403(message):
    assert staff().get(url(message)).status_code == 403
    assert staff("contacts.view_contact").get(url(message)).status_code == 403


def test_a_chosen_contact_sees_their_subject_preheader_both_widths_and_links(
    shop, message, admin_client: Client
):
    contact(shop, "ada@example.com", "Ada <b>", "120")
    contact(shop, "bob@example.com", "Bob", "7")  # the newest: not chosen
    response = admin_client.get(url(message, "Ada@Example.com"))
    page = read(response)
    html = response.content.decode()
    assert "Shown for ada@example.com, a contact of list “Shop”." in page.text
    assert "Sale for Ada &lt;b&gt;" in html  # the subject, escaped in the page
    assert "Sale for Ada <b>" in page.text
    assert "Hi Ada <b>, the autumn sale starts today: https://shop.example/p?points=120" in (
        page.text
    )  # the preheader, from the text version
    assert "Preheader from the HTML version Up to 40% off, this weekend only." in page.text
    desktop, phone = page.frames
    assert "Desktop, 640 pixels wide" in page.text and "Phone, 375 pixels wide" in page.text
    for frame in (desktop, phone):
        assert "sandbox" in frame
        assert "allow-scripts" not in frame["sandbox"]
        assert "allow-same-origin" not in frame["sandbox"]
        # The email's own HTML, the merge value escaped in it as it is in the email, and
        # its <style> rules inlined as sending inlines them.
        assert (
            '<p style="color: red;">Hi Ada &lt;b&gt;, the autumn sale starts today.</p>'
            in frame["srcdoc"]
        )
        assert 'href="https://shop.example/p?points=120"' in frame["srcdoc"]
        assert "Bob" not in frame["srcdoc"]
    assert "Hi Ada &amp;lt;b&amp;gt;" in html  # escaped twice in the page: no markup leaks
    rows = page.link_rows
    assert ["Web link", "Your points", "https://shop.example/p?points=120", "HTML and text"] in rows
    assert ["Email address", "Help", "help@shop.example", "HTML"] in rows
    kinds = [row[0] for row in rows]
    assert {"Browser link", "Pass-along link", "Unsubscribe link"} <= set(kinds)
    assert "Unsubscribe: [unsubscribe link]" in page.text  # the text version's footer


def test_with_no_address_it_shows_the_most_recently_subscribed_contact(
    shop, message, admin_client: Client
):
    contact(shop, "ada@example.com", "Ada", "120")
    contact(shop, "bob@example.com", "Bob", "7")
    response = admin_client.get(url(message))
    page = read(response)
    assert "Shown for bob@example.com, the most recently subscribed contact" in page.text
    assert "Sale for Bob" in page.text
    assert '<option value="ada@example.com">' in response.content.decode()  # offered to pick


def test_a_list_without_contacts_shows_sample_data_for_every_field(shop, admin_client: Client):
    message = MessageFactory.create(
        list=shop,
        subject="Sale for {{ profile.first_name }}",
        text_body="{{ email }}: {{ profile.birthday }}, {{ profile.points }}, {{ profile.vip }}",
    )
    page = read(admin_client.get(url(message)))
    assert "List “Shop” has no contacts yet; showing sample data." in page.text
    assert "Sale for Ada" in page.text
    assert "ada@example.com: 1990-12-10, 42, on" in page.text
    assert "This message has no HTML version" in page.text
    assert page.frames == []


def test_an_unknown_address_says_so_and_shows_sample_data(shop, message, admin_client: Client):
    contact(shop, "bob@example.com", "Bob", "7")
    response = admin_client.get(url(message, "x@y.example"))
    page = read(response)
    assert 'value="x@y.example"' in response.content.decode()  # what was asked stays in the field
    assert "No contact of list “Shop” has the address x@y.example; showing sample data." in (
        page.text
    )
    assert "Sale for Ada" in page.text and "Bob" not in page.text
    # An address no contact can have is only another unknown one.
    page = read(admin_client.get(url(message, "x%00y" + "z" * 300)))
    assert "No contact of list “Shop” has the address x" in page.text


def test_a_broken_template_is_shown_in_words(shop, message, admin_client: Client):
    # Saving refuses both: a template that does not compile, and a link whose
    # address comes from a merge field; messages saved before the checks may hold them.
    Message.objects.filter(pk=message.pk).update(subject="Sale {% if %}")
    page = read(admin_client.get(url(message)))
    assert "Not rendered: the subject:" in page.text
    assert page.frames == []
    Message.objects.filter(pk=message.pk).update(
        subject="Sale", html_body='<a href="https://shop.example{{ profile.first_name }}">x</a>'
    )
    contact(shop, "eve@example.com", "@evil.example", "1")
    page = read(admin_client.get(url(message)))
    assert (
        "Not rendered: The link https://shop.example{{ profile.first_name }} takes its "
        "address from a merge field" in page.text
    )


def test_without_the_contact_view_permission_only_sample_data_is_shown(shop, message):
    contact(shop, "ada@example.com", "Secret", "120")
    viewer = staff("emails.view_message")
    page = read(viewer.get(url(message, "ada@example.com")))
    assert "seeing a contact's data needs the permission to view contacts" in page.text
    assert "Secret" not in page.text and "Secret" not in page.frames[0]["srcdoc"]
    assert "Sale for Ada" in page.text


def test_a_preview_sends_tracks_and_records_nothing(
    shop, message, admin_client: Client, mailoutbox
):
    contact(shop, "ada@example.com", "Ada", "120")
    activities = Activity.objects.count()
    read(admin_client.get(url(message, "ada@example.com")))
    read(admin_client.get(url(message)))
    assert Activity.objects.count() == activities
    assert not Delivery.objects.exists()
    assert not MessageLink.objects.exists()
    assert mailoutbox == []


def test_a_message_of_another_list_previews_with_its_own_list(admin_client: Client):
    other = MessageFactory.create(list=ListFactory(name="Other"), subject="Hi {{ email }}")
    page = read(admin_client.get(url(other)))
    assert "List “Other” has no contacts yet" in page.text
    assert "Hi ada@example.com" in page.text


def test_the_window_a_message_step_opens_has_the_preview_too(admin_client, message):
    """Editing a message from its step (Django's pop-up window, where the page's
    object tools are hidden) still offers the preview, in a window beside it."""
    popup = admin_client.get(f"/admin/emails/message/{message.pk}/change/?_popup=1")
    html = popup.content.decode()
    assert (
        f'<a href="{url(message)}" target="_blank" rel="noopener" id="popup-preview">'
        "Preview (opens beside this window)</a>"
    ) in html
    page = admin_client.get(f"/admin/emails/message/{message.pk}/change/").content.decode()
    assert 'id="popup-preview"' not in page and f'href="{url(message)}"' in page
