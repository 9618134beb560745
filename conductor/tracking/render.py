"""A delivery's email: its message's templates rendered with the contact's
merge fields, every web link rewritten into a tracked link, an open pixel,
the browser, pass-along and unsubscribe links, and RFC 8058 headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Template
from django.urls import reverse
from django.utils.html import escape

from conductor.models import Delivery, Message
from conductor.tracking import links
from conductor.tracking.tokens import make_token
from lists.models import ProfileField

_NAME = re.compile(r"[^a-z0-9]+")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def merge_fields(delivery: Delivery) -> dict[str, object]:
    """What a message's templates may use: ``email``, ``email_key``,
    ``profile.<field name in snake_case>``, ``trigger`` (what brought the
    contact in) and ``list``; plus ``links`` (browser, pass_along,
    unsubscribe), added when rendering."""
    contact = delivery.contact
    fields = ProfileField.objects.filter(list_id=contact.list_id)
    profile = {
        _NAME.sub("_", f.name.lower()).strip("_"): contact.profile.get(f.key, "") for f in fields
    }
    enrollment = delivery.step_run.enrollment
    return {
        "email": contact.email,
        "email_key": contact.email_key,
        "profile": profile,
        "trigger": {"kind": enrollment.trigger_kind, **enrollment.trigger_details},
        "list": {"name": contact.list.name},
    }


def tracking_url(kind: str, delivery_id: int, link_id: int | None = None) -> str:
    """The absolute URL (on ``PUBLIC_BASE_URL``) of one of the email's pages."""
    token = make_token(kind, delivery_id, link_id)
    path = reverse(f"conductor:track-{kind}", kwargs={"token": token})
    return settings.PUBLIC_BASE_URL + path


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str  # empty when the message has no HTML body
    page_links: dict[str, str]  # browser, pass_along, unsubscribe


def render(
    delivery: Delivery, *, link_ids: dict[str, int] | None = None, pixel: bool = True
) -> RenderedEmail:
    """Render ``delivery``'s message with the merge fields it was sent with
    (``merge_context``), or the contact's current ones before it is sent.
    ``link_ids``: the message's links (``links.link_ids``) when the caller
    already has them."""
    message = delivery.message
    ids = links.link_ids(message) if link_ids is None else link_ids
    page_links = {
        "browser": tracking_url("view", delivery.pk),
        "pass_along": tracking_url("share", delivery.pk),
        "unsubscribe": tracking_url("unsubscribe", delivery.pk),
    }
    context = {**(delivery.merge_context or merge_fields(delivery)), "links": page_links}

    def click(link_id: int) -> str:
        return tracking_url("click", delivery.pk, link_id)

    subject = " ".join(Template(message.subject).render(Context(context)).split())
    text_source = links.mark_text(message.text_body, ids)
    text = Template(text_source).render(Context(context, autoescape=False))
    text = links.fill(text, click) + _text_footer(message, page_links)
    html = ""
    if message.html_body:
        html = Template(links.mark_html(message.html_body, ids)).render(Context(context))
        html = links.fill(html, click)
        html = _with_html_footer(html, message, page_links, delivery if pixel else None)
    return RenderedEmail(subject=subject, text=text, html=html, page_links=page_links)


def _text_footer(message: Message, page_links: dict[str, str]) -> str:
    # Every message carries an unsubscribe link: added when its template has none.
    if "links.unsubscribe" in message.text_body:
        return ""
    return (
        f"\n\n--\nView this email in your browser: {page_links['browser']}\n"
        f"Unsubscribe: {page_links['unsubscribe']}\n"
    )


def _with_html_footer(
    html: str, message: Message, page_links: dict[str, str], delivery: Delivery | None
) -> str:
    extra = ""
    if "links.unsubscribe" not in message.html_body:
        extra += (
            '<p style="font-size:12px;color:#666">'
            f'<a href="{escape(page_links["browser"])}">View in your browser</a> · '
            f'<a href="{escape(page_links["pass_along"])}">Forward to a friend</a> · '
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


def build_email(delivery: Delivery, *, link_ids: dict[str, int] | None = None):
    """The ``EmailMultiAlternatives`` of ``delivery``, ready to send."""
    message = delivery.message
    email_list = delivery.contact.list
    rendered = render(delivery, link_ids=link_ids)
    from_email = message.from_email or email_list.from_email or settings.DEFAULT_FROM_EMAIL
    from_name = message.from_name or email_list.from_name
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((from_name, from_email)) if from_name else from_email,
        to=[delivery.contact.email],
        headers={
            "Message-ID": f"<delivery-{delivery.pk}@{from_email.rpartition('@')[2]}>",
            # RFC 8058: mail providers unsubscribe with one POST to this URL.
            "List-Unsubscribe": f"<{rendered.page_links['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if rendered.html:
        email.attach_alternative(rendered.html, "text/html")
    return email
