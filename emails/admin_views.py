"""What the admin shows of deliveries outside their own list: a contact's
emails on the contact's page, a message's sending figures on the message's
page, and the filters other apps add to the deliveries list (Conductor's
conversation filter)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from contacts.models import Contact
from contacts.panels import ContactPanel, add_contact_panel
from core.panels import Panels
from emails.models import Delivery, DeliveryStatus, Message

RECENT_EMAILS = 20

#: A message page's sections added by the apps that send it (Conductor's
#: "Published versions": which content each sends).
message_panels: Panels[Message] = Panels()

#: The deliveries list's filters added by the apps that send (by their title).
source_filters: list[type[admin.ListFilter]] = []


def add_delivery_filter(list_filter: type[admin.ListFilter]) -> None:
    """Offer ``list_filter`` on the deliveries list (a sender's own, such as
    "By conversation")."""
    if list_filter not in source_filters:
        source_filters.append(list_filter)


def deliveries_url(**lookups: str | int) -> str:
    """The deliveries list filtered by ``lookups`` (``contact__id__exact=7``)."""
    return f"{reverse('admin:emails_delivery_changelist')}?{urlencode(lookups)}"


def contact_emails(contact: Contact) -> SafeString:
    """The latest emails to ``contact``, newest first, with a link to all of them."""
    rows = list(
        Delivery.objects.filter(contact=contact)
        .select_related("message")
        .order_by("-created_at", "-id")[:RECENT_EMAILS]
    )
    if not rows:
        return format_html("{}", "No email yet.")
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((d.message.name, d.subject, d.get_status_display(), _when(d), d.error) for d in rows),
    )
    return format_html(
        '<table class="contact-emails"><thead><tr><th>Message</th><th>Subject</th>'
        "<th>Status</th><th>When</th><th>Why not sent</th></tr></thead><tbody>{}</tbody>"
        '</table><p><a href="{}">Every email to this contact</a></p>',
        body,
        deliveries_url(contact__id__exact=contact.pk),
    )


def _when(delivery: Delivery) -> str:
    """When the email went, or will be tried again, or was queued."""
    if delivery.sent_at:
        return f"Sent {delivery.sent_at:%Y-%m-%d %H:%M} UTC"
    if delivery.status == DeliveryStatus.PENDING and delivery.retry_at:
        return f"To be tried again at {delivery.retry_at:%Y-%m-%d %H:%M} UTC"
    return f"Queued {delivery.created_at:%Y-%m-%d %H:%M} UTC"


def message_figures(message: Message) -> SafeString:
    """How many emails of ``message`` are in each status, each a link to them."""
    counts = dict(
        Delivery.objects.filter(message=message)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    if not counts:
        return format_html("{}", "Not sent to anyone yet.")
    return format_html_join(
        ", ",
        '<a href="{}">{} {}</a>',
        (
            (
                deliveries_url(message__id__exact=message.pk, status__exact=status),
                counts[status],
                label.lower(),
            )
            for status, label in DeliveryStatus.choices
            if status in counts
        ),
    )


add_contact_panel(
    ContactPanel(title="Emails", permission="emails.view_delivery", render=contact_emails)
)
