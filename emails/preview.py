"""A message's preview in the admin: the email as one contact of its list
would get it (or as sample data when there is no such contact), rendered
the way a test send renders it (``emails.render.render_for_staff``): the
subject, the preheader, the HTML version, the text version and where every
link goes. Nothing is sent, tracked or written."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.utils import timezone

from contacts.models import Contact, SubscriptionState
from emails.mailbox import preview_html
from emails.models import Message
from emails.render import from_header, render_for_staff
from emails.template_checks import PAGE_LINKS, merge_fields_used, merge_name
from emails.tracking.link_text import TEXT_URL
from lists.models import DataType, ProfileField

#: How many characters of the preheader a mail client shows, about.
PREHEADER_LENGTH = 100
#: How many of the list's newest subscribers the contact field suggests.
SUGGESTED_CONTACTS = 20
SAMPLE_EMAIL = "ada@example.com"
#: What ``{{ coupon }}`` shows: a contact's own code is known only when a
#: conversation sends the message (its Set Coupon action gave it).
SAMPLE_COUPON = "SAMPLE-2024"
COUPON_NOTE = (
    "{{ coupon }} shows a sample code, “SAMPLE-2024”: the contact's own code is the one "
    "a Set Coupon action of the conversation sending this message gives them."
)
NOT_ALLOWED = "Showing sample data: seeing a contact's data needs the permission to view contacts."

#: What ``{{ links.* }}`` become in the preview (they are the contact's own
#: pages once sent), and how the link table names them.
PAGE_LINK_HREFS = {name: f"#{name.replace('_', '-')}-link" for name in PAGE_LINKS}
PAGE_LINK_NAMES = {
    "browser": ("Browser link", "This email as a web page, made for the contact when it is sent"),
    "pass_along": ("Pass-along link", "A page to forward this email to a friend"),
    "unsubscribe": ("Unsubscribe link", "The contact's one-click unsubscribe page"),
}

# Sample values of text fields by words in the field's name, then of each type.
_SAMPLE_TEXT_BY_NAME = [
    (("first",), "Ada"),
    (("last", "surname"), "Lovelace"),
    (("name",), "Ada Lovelace"),
    (("city", "town"), "London"),
    (("country",), "United Kingdom"),
    (("zip", "postcode", "postal"), "W1A 1AA"),
    (("phone", "mobile"), "+44 20 7946 0000"),
    (("coupon", "code"), "SAMPLE-2024"),
    (("company", "organisation", "organization"), "Analytical Engines Ltd"),
]
_SAMPLE_BY_TYPE = {
    DataType.TEXT: "Sample text",
    DataType.NUMERIC: "42",
    DataType.CHECK_BOX: "on",
    DataType.RADIO_BUTTON: "on",
    DataType.COMMENT_AREA: "A sample comment: loves the autumn range.",
    DataType.CONTENT_BLOCK: "A sample content block.",
}


@dataclass
class LinkRow:
    """One link of the email: what it is, its text, where it goes."""

    kind: str
    goes_to: str
    texts: list[str] = field(default_factory=list)
    found_in: list[str] = field(default_factory=list)  # "HTML", "text"
    opens: bool = False  # a web address staff may open from the table


@dataclass
class Preview:
    """What the preview page shows. ``problem``: why the message could not be
    rendered, in words; then only the contact is known."""

    email_list: str
    address: str  # the contact's, or the sample's
    asked: str  # what the contact field holds: the address asked for, or the contact's
    note: str  # whose data it is, in a sentence
    sample: bool
    suggestions: list[str]
    sender: str = ""
    subject: str = ""
    preheader: str = ""
    html_preheader: str = ""  # when the HTML version's differs
    html: str = ""  # ready for a sandboxed frame's srcdoc
    text: str = ""
    links: list[LinkRow] = field(default_factory=list)
    uses_trigger: bool = False  # its templates use ``{{ trigger.* }}``
    coupon_note: str = ""  # when its templates use ``{{ coupon }}``: what it shows
    problem: str = ""


def preview_message(message: Message, address: str | None, *, may_see_contacts: bool) -> Preview:
    """``message`` rendered for the contact of its list with ``address``; with
    no address, for the list's most recently subscribed contact; sample data
    when there is no such contact, or when staff may not see contacts."""
    fields = list(ProfileField.objects.filter(list_id=message.list_id))
    asked = (address or "").strip()
    contact, note, suggestions = _choose_contact(message, asked, may_see_contacts)
    sample = contact is None
    if contact is None:
        contact = sample_contact(message, fields)
    preview = Preview(
        email_list=message.list.name,
        address=contact.email,
        asked=asked or ("" if sample else contact.email),
        note=note,
        sample=sample,
        suggestions=suggestions,
        sender=from_header(message)[0],
        uses_trigger=any("trigger." in part for part in _templates(message)),
        coupon_note=COUPON_NOTE if "coupon" in merge_fields_used(message) else "",
    )
    try:
        rendered = render_for_staff(
            message,
            contact,
            trigger={"kind": "Preview"},
            page_links=PAGE_LINK_HREFS,
            fields=fields,
            footer=True,
            supplied={"coupon": SAMPLE_COUPON},
        )
    except Exception as error:  # a template or link problem: shown, as a test send shows it
        preview.problem = f"Not rendered: {error}"
        return preview
    html_reading = _HtmlReading(rendered.html)
    text = rendered.text
    for name, href in PAGE_LINK_HREFS.items():
        text = text.replace(href, f"[{PAGE_LINK_NAMES[name][0].lower()}]")
    preview.subject = rendered.subject
    preview.text = text
    preview.html = preview_html(rendered.html) if rendered.html else ""
    preview.preheader = _first_words(text) or _first_words(html_reading.visible_text())
    if rendered.html:
        from_html = _first_words(html_reading.visible_text())
        preview.html_preheader = from_html if from_html != preview.preheader else ""
    preview.links = _link_rows(html_reading.links, rendered.text)
    return preview


def _templates(message: Message) -> tuple[str, str, str]:
    return message.subject, message.html_body, message.text_body


def _choose_contact(
    message: Message, address: str, may_see_contacts: bool
) -> tuple[Contact | None, str, list[str]]:
    """The contact to show (None: sample data), a sentence saying whose data
    it is, and the addresses to suggest."""
    if not may_see_contacts:
        return None, NOT_ALLOWED, []
    list_name = message.list.name
    contacts = Contact.objects.filter(list_id=message.list_id).select_related("list")
    # The (list, state, subscribed_at) index serves this on a list of millions.
    newest = contacts.filter(state=SubscriptionState.SUBSCRIBED).order_by("-subscribed_at", "-pk")
    suggestions = list(newest.values_list("email", flat=True)[:SUGGESTED_CONTACTS])
    if address:
        found = None
        # PostgreSQL refuses a NUL in a query; no address holds one, or is longer.
        if "\x00" not in address and len(address) <= 254:
            found = contacts.filter(email=address.lower()).first()
        if found is None:
            note = (
                f"No contact of list “{list_name}” has the address {address}; showing sample data."
            )
            return None, note, suggestions
        return found, f"Shown for {found.email}, a contact of list “{list_name}”.", suggestions
    contact = newest.first() or contacts.order_by("-pk").first()
    if contact is None:
        return None, f"List “{list_name}” has no contacts yet; showing sample data.", suggestions
    note = f"Shown for {contact.email}, the most recently subscribed contact of list “{list_name}”."
    return contact, note, suggestions


def sample_contact(message: Message, fields: list[ProfileField]) -> Contact:
    """An unsaved contact of ``message``'s list, every profile field filled
    with a plausible value of its type (stored form: ``lists.field_types``)."""
    profile = {f.key: sample_value(f)[: f.max_length] for f in fields}
    return Contact(list=message.list, email=SAMPLE_EMAIL, profile=profile)


def sample_value(profile_field: ProfileField) -> str:
    """A plausible value of ``profile_field`` in its stored form: a first
    name for "First Name", a date for a date, ``on`` for a check box."""
    data_type = DataType(profile_field.data_type)
    words = merge_name(profile_field.name)
    if data_type == DataType.DATE:
        return "1990-12-10" if "birth" in words else timezone.localdate().isoformat()
    if data_type == DataType.TEXT:
        for hints, value in _SAMPLE_TEXT_BY_NAME:
            if any(hint in words for hint in hints):
                return value
    return _SAMPLE_BY_TYPE[data_type]


def _first_words(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= PREHEADER_LENGTH:
        return words
    return words[:PREHEADER_LENGTH].rstrip() + "…"


def _link_rows(html_links: list[tuple[str, str]], text: str) -> list[LinkRow]:
    rows: dict[str, LinkRow] = {}

    def row(href: str) -> LinkRow:
        if href not in rows:
            rows[href] = _describe(href)
        return rows[href]

    for href, link_text in html_links:
        found = row(href)
        if link_text and link_text not in found.texts:
            found.texts.append(link_text)
        if "HTML" not in found.found_in:
            found.found_in.append("HTML")
    in_text = [m.group(0) for m in TEXT_URL.finditer(text)]
    in_text += [href for href in PAGE_LINK_HREFS.values() if href in text]
    for href in in_text:
        found = row(href)
        if "text" not in found.found_in:
            found.found_in.append("text")
    return list(rows.values())


def _describe(href: str) -> LinkRow:
    for name, page_href in PAGE_LINK_HREFS.items():
        if href == page_href:
            kind, goes_to = PAGE_LINK_NAMES[name]
            return LinkRow(kind=kind, goes_to=goes_to)
    lowered = href.lower()
    if lowered.startswith(("http://", "https://")):
        return LinkRow(kind="Web link", goes_to=href, opens=True)
    if lowered.startswith("mailto:"):
        return LinkRow(kind="Email address", goes_to=href[len("mailto:") :])
    if lowered.startswith("#"):
        return LinkRow(kind="Place in the email", goes_to=href)
    if not href:
        return LinkRow(kind="Empty link", goes_to="Nowhere: the link has no address")
    return LinkRow(kind="Other link", goes_to=href)


class _HtmlReading(HTMLParser):
    """The text a mail client shows of an HTML email (what is in its
    ``<head>``, styles and scripts left out; hidden text kept, as clients
    show a hidden preheader), and its links with their text."""

    _UNSEEN = frozenset({"head", "style", "script", "title", "template"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, the link's text)
        self._unseen = 0
        self._link: tuple[str, list[str]] | None = None
        self.feed(html)
        self.close()

    def visible_text(self) -> str:
        return " ".join(self.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._UNSEEN:
            self._unseen += 1
        elif tag == "a" and (href := dict(attrs).get("href")) is not None:
            self._end_link()
            self._link = (href.strip(), [])
        elif tag == "img" and self._link is not None and (alt := dict(attrs).get("alt")):
            self._link[1].append(f"(image: {alt})")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._UNSEEN:
            self._unseen = max(0, self._unseen - 1)
        elif tag == "a":
            self._end_link()

    def handle_data(self, data: str) -> None:
        if self._unseen:
            return
        self.text.append(data)
        if self._link is not None:
            self._link[1].append(data)

    def close(self) -> None:
        super().close()
        self._end_link()

    def _end_link(self) -> None:
        if self._link is not None:
            href, words = self._link
            self.links.append((href, " ".join(" ".join(words).split())))
            self._link = None
