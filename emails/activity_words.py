"""The words of the activity ``emails`` records about a contact: an email
sent, opened, clicked, bounced, marked as spam, or converted into a
purchase; and, on any other activity that came through an email (an
unsubscribe by its link), which email. Registered by ``EmailsConfig.ready``
(see ``contacts.activity_words``)."""

from __future__ import annotations

from contacts.activity_words import (
    Names,
    add_aside,
    add_names,
    detail,
    detail_refs,
    details,
    quote,
    word_kind,
)
from contacts.models import Activity, ActivityKind
from emails.models import Message

EMAIL_KINDS = frozenset(
    {
        ActivityKind.EMAIL_SENT,
        ActivityKind.EMAIL_OPENED,
        ActivityKind.EMAIL_CLICKED,
        ActivityKind.EMAIL_BOUNCED,
        ActivityKind.EMAIL_SPAM,
        ActivityKind.EMAIL_CONVERTED,
    }
)
#: What a click on one of an email's own links (not a tracked link) opened.
CLICKED_PAGES = {"browser": "the browser version", "pass_along": "the forward-to-a-friend page"}


def _message(activity: Activity, names: Names) -> str | None:
    """The email's name in quotes, or None when its message is gone."""
    return names.quoted("message", details(activity).get("message_id"))


def sent(activity: Activity, names: Names) -> str:
    message = _message(activity, names)
    return f"Email {message} sent" if message else "Email sent"


def opened(activity: Activity, names: Names) -> str:
    return f"Opened {_message(activity, names) or 'an email'}"


def clicked(activity: Activity, names: Names) -> str:
    message = _message(activity, names) or "an email"
    page = CLICKED_PAGES.get(detail(activity, "link_kind") or "")
    if page:
        return f"Opened {page} of {message}"
    url = detail(activity, "link_url")
    return f"Clicked {url} in {message}" if url else f"Clicked a link in {message}"


def bounced(activity: Activity, names: Names) -> str:
    message = _message(activity, names)
    text = f"Email {message} bounced" if message else "An email bounced"
    how = detail(activity, "bounce_kind")
    if how:
        text += f" ({how})"
    reason = detail(activity, "reason")
    return f"{text}: {quote(reason)}" if reason else text


def spam(activity: Activity, names: Names) -> str:
    return f"Marked {_message(activity, names) or 'an email'} as spam"


def converted(activity: Activity, names: Names) -> str:
    message = _message(activity, names) or "an email"
    text = f"Converted: bought after clicking {message}"
    total = details(activity).get("order_total")
    if isinstance(total, int | float) and not isinstance(total, bool):
        text = f"Converted: an order of {total:,.2f} after clicking {message}"
    event = names.quoted("event", details(activity).get("event_id"))
    return f"{text} (event {event})" if event else text


def through_an_email(activity: Activity, names: Names) -> str | None:
    """Which email another kind of activity came through (an unsubscribe by its link)."""
    if activity.kind in EMAIL_KINDS:
        return None
    message = _message(activity, names)
    return f"from email {message}" if message else None


def register() -> None:
    """Word the email kinds, and name the messages their details refer to."""
    add_names(
        "message",
        refs=detail_refs("message_id"),
        lookup=lambda ids: dict(Message.objects.filter(pk__in=ids).values_list("pk", "name")),
    )
    word_kind(ActivityKind.EMAIL_SENT, sent)
    word_kind(ActivityKind.EMAIL_OPENED, opened)
    word_kind(ActivityKind.EMAIL_CLICKED, clicked)
    word_kind(ActivityKind.EMAIL_BOUNCED, bounced)
    word_kind(ActivityKind.EMAIL_SPAM, spam)
    word_kind(ActivityKind.EMAIL_CONVERTED, converted)
    add_aside("email", through_an_email)
