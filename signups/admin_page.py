"""What a point's admin page shows below (and above) its settings: the
warnings a marketer should act on, the "Put it on your site" panel (the
three snippets to copy and a live preview), and the report
(``signups.reports``, drawn by ``signups.admin_chart``).

The preview is the hosted page's own template rendered into a sandboxed
frame (no scripts, no posting), and the real pop-up script loaded with
``?preview=1``, which shows it at once and never posts
(``signups.views.popup_script``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from contacts.optin.sending import sender_of
from signups import snippets
from signups.admin_chart import daily_chart, outcome_class
from signups.forms import HONEYPOT, SignupForm
from signups.models import PopupOpening, Signup, SubscriptionPoint
from signups.reports import BOTS, PEOPLE, SHORT, conversations_entered, daily_signups

#: The HTML form posts as any form does, so it works anywhere; the pop-up
#: posts across origins, which only the allowed origins may.
NO_ORIGINS = (
    "The pop-up only works on sites listed under Allowed origins, and there are none yet: "
    "add your shop's address there (https://www.example.com). The hosted page and the HTML "
    "form work without."
)
#: How many of the latest signups the page lists.
LATEST = 20


# --- Warnings -------------------------------------------------------------------


def warnings(point: SubscriptionPoint) -> list[SafeString]:
    """What stops the point from working as the marketer expects, in words."""
    found: list[SafeString] = []
    if not point.is_active:
        found.append(
            format_html(
                "{}",
                "This point is not taking signups: its page and pop-up say the form is "
                "closed. Tick “Taking signups” to open it.",
            )
        )
    if not point.origins:
        found.append(format_html("{}", NO_ORIGINS))
    if point.event is not None and not point.event.is_active:
        found.append(
            format_html(
                "Its event “{}” is blocked: signups here fire nothing, so no conversation "
                'starts from them. <a href="{}">Unblock the event</a> or choose another.',
                point.event.name,
                reverse("admin:lists_event_change", args=[point.event.pk]),
            )
        )
    if point.consent_text:
        found.append(
            format_html(
                "{}",
                "Its consent box subscribes again, at once and with no confirmation email, "
                "any address that once unsubscribed, whoever ticks it (as Listrak's "
                "overrideUnsubscribe does). Word it so that only the person would tick it, or "
                "empty “Consent checkbox” to keep unsubscribed addresses unsubscribed.",
            )
        )
    if point.double_opt_in:
        email_list = point.list
        list_url = reverse("admin:lists_list_change", args=[email_list.pk])
        if not email_list.double_opt_in:
            found.append(
                format_html(
                    "This point asks for confirmation, but its list “{}” has double opt-in "
                    "off: people signing up here must click the link in the confirmation "
                    "email before they are subscribed, while the list's other ways in "
                    "(imports, the API) subscribe them at once. If that is not what you "
                    'want, untick “Ask for confirmation”, or <a href="{}">turn double '
                    "opt-in on for the list</a>.",
                    email_list.name,
                    list_url,
                )
            )
        if not email_list.from_email:
            found.append(
                format_html(
                    "The confirmation email goes out from the list's sender, and the list "
                    "“{}” has no from address: it will come from {}. "
                    '<a href="{}">Set the list\'s from name and address</a>.',
                    email_list.name,
                    sender_of(email_list),
                    list_url,
                )
            )
    return found


# --- Put it on your site ----------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    ident: str
    title: str
    #: Where it goes, in a line.
    where: str
    text: str
    rows: int


def _opening(point: SubscriptionPoint) -> str:
    if point.popup_opening == PopupOpening.EXIT:
        return "when the visitor is about to leave"
    seconds = point.popup_delay_seconds
    return f"{seconds} second{'s' if seconds != 1 else ''} after the page loads"


def site_snippets(point: SubscriptionPoint) -> list[Snippet]:
    """The three ways to use the point, ready to copy."""
    form = snippets.html_form(point)
    return [
        Snippet(
            "hosted",
            "The hosted page",
            "A page of its own: link to it from emails, social posts, or a QR code. "
            "Nothing to install.",
            snippets.hosted_url(point),
            1,
        ),
        Snippet(
            "form",
            "The HTML form",
            "Paste it into your site's page where the form should appear (a footer, a "
            "landing page). It takes your site's own styles.",
            form,
            min(form.count("\n") + 2, 16),
        ),
        Snippet(
            "popup",
            "The pop-up",
            "Paste it once into your site's pages, just before </body> (or add it with your "
            f"tag manager). It opens {_opening(point)}, once per visitor.",
            snippets.popup_tag(point),
            2,
        ),
    ]


def preview_document(point: SubscriptionPoint) -> str:
    """The hosted page as visitors see it, for the preview's sandboxed frame."""
    form = SignupForm(point, auto_id="preview-%s")
    return render_to_string(
        "signups/page.html", {"point": point, "form": form, "note": "", "honeypot": form[HONEYPOT]}
    )


def preview_height(point: SubscriptionPoint) -> int:
    """Room for the page in the frame, in pixels: the frame cannot run a script to
    measure it, so it is reckoned from what the form asks."""
    asked = point.asked
    height = 250 + (60 if point.intro else 0) + (40 if point.consent_text else 0)
    for point_field in asked:
        height += 110 if point_field.field.data_type == "CommentArea" else 75
    return min(height, 1200)


def popup_preview_url(point: SubscriptionPoint) -> str:
    """The real pop-up script, in preview mode: on this site, so the admin's
    Content-Security-Policy (scripts from 'self' only) lets it run."""
    return reverse("signup-popup-script", kwargs={"key": point.key}) + "?preview=1"


def panel_context(point: SubscriptionPoint) -> dict[str, Any]:
    """What ``put_it_on_your_site.html`` shows, as ``panel``."""
    return {
        "snippets": site_snippets(point),
        "hosted_url": snippets.hosted_url(point),
        "preview_html": preview_document(point),
        "preview_height": preview_height(point),
        "popup_url": popup_preview_url(point),
        "public_base_url": settings.PUBLIC_BASE_URL,
    }


# --- The report ---------------------------------------------------------------------


@dataclass(frozen=True)
class Latest:
    at: datetime.datetime
    outcome: str
    outcome_class: str
    people: bool
    email: str
    url: str


def report_context(
    point: SubscriptionPoint, request: HttpRequest, *, today: datetime.date | None = None
) -> dict[str, Any]:
    """What ``report.html`` shows of ``point``, as ``report``, for the user of ``request``."""
    daily = daily_signups(point, today=today)
    may_see_conversations = request.user.has_perm("conductor.view_conversation")
    entered = [
        {
            "name": row.name,
            "url": reverse("admin:conductor_conversation_change", args=[row.conversation_id])
            if may_see_conversations
            else "",
            "contacts": row.contacts,
            "through_event": row.through_event,
        }
        for row in conversations_entered(point)
    ]
    return {
        "daily": daily,
        "chart": daily_chart(daily, ident=f"point-{point.pk}-daily"),
        "legend": [(outcome_class(o), SHORT[o], daily.totals[o]) for o in PEOPLE + BOTS],
        "heads": [SHORT[o] for o in PEOPLE],
        "bot_heads": [SHORT[o] for o in BOTS],
        "days": [
            (
                _day(day.day),
                [day.counts[o] for o in PEOPLE],
                day.people,
                [day.counts[o] for o in BOTS],
                day.bots,
            )
            for day in reversed(daily.days)
        ],
        "entered": entered,
        "event": point.event,
        "latest": latest_signups(point, request),
    }


def latest_signups(point: SubscriptionPoint, request: HttpRequest) -> list[Latest]:
    """The point's latest signups, newest first; the address only for who may
    view contacts."""
    may_see_contacts = request.user.has_perm("contacts.view_contact")
    zone = point.list.zone
    rows = Signup.objects.filter(point=point).select_related("contact")[:LATEST]
    return [
        Latest(
            at=signup.created_at.astimezone(zone),
            outcome=signup.get_outcome_display(),
            outcome_class=outcome_class(signup.outcome),
            people=signup.outcome not in BOTS,
            email=signup.contact.email if may_see_contacts and signup.contact else "",
            url=reverse("admin:contacts_contact_change", args=[signup.contact_id])
            if may_see_contacts and signup.contact_id
            else "",
        )
        for signup in rows
    ]


def _day(day: datetime.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
