"""A delivery's email: its message's templates rendered with the contact's
merge fields, every web link rewritten into a tracked link, an open pixel,
the browser, pass-along and unsubscribe links, and RFC 8058 headers (a
transactional email, which is not marketing, has neither footer nor
headers). The HTML's styles are inlined, and a text part made from the HTML
when the message has none, once per message when its templates are compiled."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse
from django.utils.html import escape

from contacts.models import Contact
from emails.content_library import MissingBlocks, with_blocks
from emails.html_body import inline_css, text_from_html
from emails.mime import CampaignEmail
from emails.models import Delivery, Message
from emails.template_checks import merge_name
from emails.tracking import link_text, links
from emails.tracking.tokens import make_token
from lists.models import ProfileField

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
#: The merge context's ``{profile field key: value}`` a source gives to show
#: instead of the contact's own values (a transactional send's request).
GIVEN_VALUES = "profile_values"


def merge_fields(delivery: Delivery, fields: list[ProfileField] | None = None) -> dict[str, object]:
    """What a message's templates may use: ``email``, ``email_key``,
    ``profile.<field name in snake_case>`` and ``list``, read now; the merge
    fields the delivery's source supplied (``trigger``: what brought the
    contact in; ``GIVEN_VALUES``: profile values shown instead of the
    contact's own); plus ``links`` (browser, pass_along, unsubscribe), added
    when rendering. ``fields``: the list's profile fields, when the caller
    has them."""
    supplied = delivery.merge_context or {}
    given = supplied.get(GIVEN_VALUES)
    return {
        **supplied,
        **_merge_fields(delivery.contact, fields, supplied.get("trigger", {}), given),
    }


def rendered_fields(delivery: Delivery) -> dict[str, object]:
    """The merge fields ``delivery``'s email was rendered with; before it is
    rendered (or for an email sent before they were kept), ``merge_fields``."""
    kept = delivery.merge_context or {}
    return kept if "profile" in kept else merge_fields(delivery)


def _merge_fields(
    contact: Contact,
    fields: list[ProfileField] | None,
    trigger: dict[str, object],
    given: dict[str, str] | None = None,
) -> dict[str, object]:
    if fields is None:
        fields = list(ProfileField.objects.filter(list_id=contact.list_id))
    values = {**contact.profile, **given} if given else contact.profile
    profile = {merge_name(f.name): values.get(f.key, "") for f in fields}
    return {
        "email": contact.email,
        "email_key": contact.email_key,
        "profile": profile,
        "trigger": trigger,
        "list": {"name": contact.list.name},
    }


def tracking_url(kind: str, delivery_id: int, link_id: int | None = None) -> str:
    """The absolute URL (on ``PUBLIC_BASE_URL``) of one of the email's pages."""
    before, after = _url_around_token(kind)
    return f"{settings.PUBLIC_BASE_URL}{before}{make_token(kind, delivery_id, link_id)}{after}"


@functools.lru_cache(maxsize=16)
def _url_around_token(kind: str) -> tuple[str, str]:
    # Resolved once per kind: an email has seven of these URLs.
    path = reverse(f"emails:track-{kind}", kwargs={"token": "TOKEN"})
    before, _, after = path.partition("TOKEN")
    return before, after


class TemplateProblem(TemplateSyntaxError):
    """A message's template that cannot be compiled, in words: which part,
    on which line, and Django's own error."""


class MessageTemplates:
    """A message's templates, compiled once, with its links' ids: what
    rendering many emails of one message shares. Raises TemplateProblem
    when one cannot be compiled."""

    def __init__(self, message: Message) -> None:
        self.message = message
        source = _with_blocks(message)  # a block's links are the message's, tracked too
        self.link_ids = links.link_ids(source)
        self.subject, self.text, self.html = _compile(source, self.link_ids)


def check_templates(message: Message) -> None:
    """Compile ``message``'s templates as sending does, raising TemplateProblem
    for the first that cannot be. Writes nothing: its links are marked with
    ids that are not saved (the ids do not change what compiles)."""
    source = _with_blocks(message)
    _compile(source, dict.fromkeys(links.links_in(source), 0))


def _with_blocks(message: Message) -> Message:
    """``message`` with its content blocks written in, as they are now
    (``emails.content_library``); a block that no longer exists is a
    TemplateProblem, so its email is skipped with the reason."""
    try:
        return with_blocks(message)
    except MissingBlocks as missing:
        raise TemplateProblem(f"{missing}.") from missing


def _compile(
    message: Message, link_ids: dict[str, int]
) -> tuple[Template, Template, Template | None]:
    # The HTML's <style> rules are inlined, and a text part is made from the
    # HTML when the message has none, here: once per message, not per email.
    subject = _template("the subject", message.subject)
    text = None
    if message.text_body.strip():
        text = _template("the text body", links.mark_text(message.text_body, link_ids))
    marked_html = links.mark_html(message.html_body, link_ids)  # tracked links as placeholders
    html = _template("the HTML body", inline_css(marked_html)) if message.html_body else None
    if text is None:  # the same placeholders: a click in the text part is tracked too
        text = _template("the text made from the HTML body", text_from_html(marked_html))
    return subject, text, html


def _template(part: str, source: str) -> Template:
    try:
        return Template(source)
    except TemplateSyntaxError as error:
        problem = " ".join(str(error).split())  # a list of tag libraries spans lines
        # Django names the line in some errors and keeps it on the error's token for all.
        token = getattr(error, "token", None)
        if token is not None and "\n" in source and f"line {token.lineno}" not in problem:
            part = f"{part}, line {token.lineno}"
        raise TemplateProblem(f"{part}: {problem}") from error


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str  # empty when the message has no HTML body
    page_links: dict[str, str]  # browser, pass_along, unsubscribe


def render(
    delivery: Delivery, *, templates: MessageTemplates | None = None, pixel: bool = True
) -> RenderedEmail:
    """Render ``delivery``'s message with the merge fields it was sent with
    (``merge_context``), or the contact's current ones before it is sent.
    ``templates``: the message's, when the caller renders many."""
    message = delivery.message
    templates = templates or MessageTemplates(message)
    page_links = {
        "browser": tracking_url("view", delivery.pk),
        "pass_along": tracking_url("share", delivery.pk),
        "unsubscribe": tracking_url("unsubscribe", delivery.pk),
    }
    context = {**rendered_fields(delivery), "links": page_links}

    @functools.cache  # a link is in the text and the HTML: one token each
    def click(link_id: int) -> str:
        return tracking_url("click", delivery.pk, link_id)

    # A transactional email (a receipt) is not marketing: no unsubscribe footer.
    footer = not delivery.transactional
    subject = subject_line(templates.subject.render(Context(context, autoescape=False)))
    text: str = templates.text.render(Context(context, autoescape=False))
    text = links.fill(text, click) + (_text_footer(message, page_links) if footer else "")
    html = ""
    if templates.html is not None:
        html = links.fill(templates.html.render(Context(context)), click)
        html = _with_html_footer(
            html, message, page_links, delivery if pixel else None, footer=footer
        )
    return RenderedEmail(subject=subject, text=text, html=html, page_links=page_links)


def subject_line(rendered: str) -> str:
    """A rendered subject as one header line. It is plain text (rendered
    without HTML escaping: ``<`` stays ``<``); every run of white space in it,
    line breaks and separators of any kind (CR, LF, VT, FF, \\x1c-\\x1f,
    NEL, U+2028, U+2029: all that ``str.split`` splits on) included, becomes
    one space, so no merge field can start another header line."""
    return " ".join(rendered.split())


def _text_footer(message: Message, page_links: dict[str, str]) -> str:
    # Every message carries an unsubscribe link: added when its template has none
    # (the HTML body's, when the text part is made from it).
    written = message.text_body if message.text_body.strip() else message.html_body
    if "links.unsubscribe" in written:
        return ""
    return (
        f"\n\n--\nView this email in your browser: {page_links['browser']}\n"
        f"Unsubscribe: {page_links['unsubscribe']}\n"
    )


def _with_html_footer(
    html: str,
    message: Message,
    page_links: dict[str, str],
    delivery: Delivery | None,
    *,
    footer: bool = True,
) -> str:
    extra = ""
    if footer and "links.unsubscribe" not in message.html_body:
        extra += (
            '<p style="font-size:12px;color:#666">'
            f'<a href="{escape(page_links["browser"])}">View in your browser</a> &middot; '
            f'<a href="{escape(page_links["pass_along"])}">Forward to a friend</a> &middot; '
            f'<a href="{escape(page_links["unsubscribe"])}">Unsubscribe</a></p>'
        )
    if delivery is not None:
        pixel = escape(tracking_url("open", delivery.pk))
        extra += f'<img src="{pixel}" width="1" height="1" alt="" style="display:none">'
    ends = list(_BODY_END.finditer(html))
    if ends:  # before the last </body>
        at = ends[-1].start()
        return html[:at] + extra + html[at:]
    return html + extra


def build_email(delivery: Delivery, *, templates: MessageTemplates | None = None) -> CampaignEmail:
    """The ``EmailMultiAlternatives`` of ``delivery``, ready to send."""
    message = delivery.message
    email_list = delivery.contact.list
    rendered = render(delivery, templates=templates)
    from_email = message.from_email or email_list.from_email or settings.DEFAULT_FROM_EMAIL
    from_name = message.from_name or email_list.from_name
    email = CampaignEmail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((from_name, from_email)) if from_name else from_email,
        to=[delivery.contact.email],
        headers={"Message-ID": f"<delivery-{delivery.pk}@{from_email.rpartition('@')[2]}>"},
    )
    if not delivery.transactional:  # a receipt has no list to leave
        # RFC 8058: mail providers unsubscribe with one POST to this URL.
        email.extra_headers["List-Unsubscribe"] = f"<{rendered.page_links['unsubscribe']}>"
        email.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if message.reply_email:
        email.extra_headers["Reply-To"] = message.reply_email
    email.envelope_from = from_email
    # An email service's API (django-anymail) sends this along and echoes it in
    # its bounce and complaint webhooks (emails.anymail_feedback); SMTP ignores it.
    email.metadata = {"delivery_id": str(delivery.pk)}
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    return email


def from_header(message: Message) -> tuple[str, str]:
    """The From header of ``message``'s emails and the address in it: the
    message's sender, else its list's, else ``DEFAULT_FROM_EMAIL``."""
    from_email = message.from_email or message.list.from_email or settings.DEFAULT_FROM_EMAIL
    from_name = message.from_name or message.list.from_name
    return (formataddr((from_name, from_email)) if from_name else from_email), from_email


def render_for_staff(
    message: Message,
    contact: Contact,
    *,
    trigger: dict[str, object],
    page_links: dict[str, str],
    fields: list[ProfileField] | None = None,
    footer: bool = False,
    supplied: dict[str, object] | None = None,
) -> RenderedEmail:
    """``message`` rendered for ``contact`` (saved or not) as staff check it,
    in a test or a preview: its links lead straight to their targets, with no
    pixel, and nothing is written. ``page_links``: what ``{{ links.* }}``
    become; ``footer``: add the browser, pass-along and unsubscribe footer
    that sending adds to a body without an unsubscribe link; ``supplied``:
    merge fields a source would supply besides the trigger (``coupon``).
    Raises TemplateProblem for a template that does not compile, and
    ValueError naming a link whose rendered address is not the one its
    template writes (``link_text.rendered_problem``): a contact's click on
    it would be refused."""
    context = {
        **(supplied or {}),
        **_merge_fields(contact, fields, trigger),
        "links": page_links,
    }
    # Numbers only to find each link again once rendered: no MessageLink is saved.
    source = _with_blocks(message)
    link_ids = {url: number for number, url in enumerate(links.links_in(source))}
    subject_template, text_template, html_template = _compile(source, link_ids)
    written = {number: url for url, number in link_ids.items()}

    @functools.cache  # a link is in the text and the HTML: rendered once
    def target(link_id: int) -> str:
        url = Template(written[link_id]).render(Context(context, autoescape=False)).strip()
        problem = link_text.rendered_problem(written[link_id], url)
        if problem is not None:
            raise ValueError(problem)
        return url

    subject = subject_line(subject_template.render(Context(context, autoescape=False)))
    text = links.fill(text_template.render(Context(context, autoescape=False)), target)
    html = ""
    if html_template is not None:
        html = links.fill(html_template.render(Context(context)), lambda n: escape(target(n)))
    if footer:
        text += _text_footer(message, page_links)
        html = _with_html_footer(html, message, page_links, None) if html else html
    return RenderedEmail(subject=subject, text=text, html=html, page_links=page_links)


def build_test_email(message: Message, address: str) -> CampaignEmail:
    """A test of ``message`` to ``address`` (staff checking it): rendered
    with the profile of the list's contact of that address when there is
    one (else empty values), its links leading straight to their targets,
    no pixel, nothing recorded (``render_for_staff``). A link whose rendered
    address is not the one its template writes raises ValueError naming it:
    the test is refused, as a contact's click on it would be."""
    contact = Contact.objects.filter(list_id=message.list_id, email=address.lower()).first()
    contact = contact or Contact(list=message.list, email=address.lower(), profile={})
    rendered = render_for_staff(
        message,
        contact,
        trigger={"kind": "Test"},
        page_links=dict.fromkeys(("browser", "pass_along", "unsubscribe"), "#"),
    )
    sender, envelope_from = from_header(message)
    email = CampaignEmail(
        subject=f"[Test] {rendered.subject}", body=rendered.text, from_email=sender, to=[address]
    )
    email.envelope_from = envelope_from
    if message.html_body:
        email.attach_alternative(rendered.html, "text/html")
    return email
