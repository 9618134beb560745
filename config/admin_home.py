"""The admin's home page, for marketers: a few figures, each a link to the
list it counts, then the pages grouped in the order of the work (Audience,
Automation, Emails, Reports, Integrations, System) instead of Django's apps
in alphabetical order.

Both follow Django's own permissions: the sections are built from
``AdminSite.get_app_list``, so a user sees exactly the pages Django's index
would show them, and a figure shows only to a user who may view the list it
links to. A page no section names lands in "Other": a model registered
later is never hidden by accident.

Each figure is one count, through an index where one helps (see each one). Those that can
reach millions of rows (subscribed contacts, emails sent today, contacts in
conversations, the Segment backlog) are kept for ``CACHE_SECONDS`` and the
page says when they were counted; the two that call for action (held
contacts, Segment's dead letters) are few by nature, read through small
indexes, and always counted afresh, so resuming or retrying shows at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus
from conductor.models import Conversation, Enrollment, EnrollmentState
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from integrations.models import MessageStatus, SegmentIntegration, SegmentMessage
from lists.models import List
from signups.models import SubscriptionPoint
from signups.reports import signups_today

#: How long the figures that count the whole audience are kept, in seconds.
CACHE_SECONDS = 30


# --- Sections --------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A group of the home page. ``members`` are model labels
    (``"contacts.Contact"``) or app labels (``"django_q"``: all its models),
    in the order they are listed."""

    name: str
    description: str
    members: tuple[str, ...] = ()


SECTIONS = (
    Section(
        "Audience",
        "Your lists, the contacts on them, and how they came and went.",
        (
            "lists.List",
            "lists.Folder",
            "contacts.Contact",
            "contacts.ListImport",
            "signups.SubscriptionPoint",
            "contacts.Activity",
            "contacts.Suppression",
            "contacts.Ban",
        ),
    ),
    Section(
        "Automation",
        "Conversations, the emails they send, and who is inside them now.",
        (
            "conductor.Conversation",
            "emails.Message",
            "emails.ContentBlock",
            "emails.ContentFolder",
            "conductor.CouponPool",
            "conductor.Enrollment",
            "lists.Event",
            "lists.EventGroup",
        ),
    ),
    Section(
        "Broadcasts",
        "Emails sent once to a list or part of it, now or at a set time, split tests, and "
        "the transactional emails your shop's backend sends one at a time.",
        (
            "broadcasts.Broadcast",
            "broadcasts.SplitTest",
            "broadcasts.SavedMessage",
            "broadcasts.TransactionalMessage",
            "broadcasts.Campaign",
            "broadcasts.SavedAudience",
        ),
    ),
    Section(
        "Emails",
        "Every email written for a contact, and what became of it.",
        ("emails.Delivery", "emails.MailboxEmail"),
    ),
    # No report has a page of its own: each conversation's and broadcast's is on its page.
    Section(
        "Reports",
        "Sent, opened, clicked and revenue, per message of a conversation and per broadcast.",
    ),
    Section(
        "Integrations",
        "Where contacts' activity is sent, and the programs that use the API.",
        ("integrations.SegmentIntegration", "api.ApiClient"),
    ),
    Section(
        "System",
        "Staff accounts, what they may do, and failed logins.",
        # The task queue and the OAuth toolkit show to superusers only (config.admin).
        ("auth.User", "auth.Group", "axes", "django_q", "oauth2_provider"),
    ),
)

OTHER = Section("Other", "Pages that no section above names yet.")


def _position(label: str, section: Section) -> int | None:
    """Where the model ``label`` ("app.Model") is listed in ``section``, if it is."""
    app_label = label.split(".")[0]
    for position, member in enumerate(section.members):
        if member in (label, app_label):
            return position
    return None


def _reports(
    conversations: dict[str, Any] | None, broadcasts: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The Reports section's entries: the conversations' list and the sent
    broadcasts', for who may see them."""
    entries = []
    if conversations is not None and conversations.get("admin_url"):
        entries.append(
            {
                **conversations,
                "name": "Conversation reports",
                "object_name": "ConversationReport",
                "add_url": None,
                "view_only": True,
                "note": "Open a conversation: its report is at the foot of its page.",
            }
        )
    if broadcasts is not None and broadcasts.get("admin_url"):
        sent = urlencode({"status__exact": BroadcastStatus.SENT})
        entries.append(
            {
                **broadcasts,
                "name": "Broadcast reports",
                "object_name": "BroadcastReport",
                "admin_url": f"{broadcasts['admin_url']}?{sent}",
                "add_url": None,
                "view_only": True,
                "note": "Open a sent broadcast: its report is on its page, under its progress.",
            }
        )
    return entries


def sections(
    app_list: list[dict[str, Any]],
    *,
    index_url: str,
    reports: bool = True,
    superusers_only: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The pages of ``app_list`` (``AdminSite.get_app_list``: what this user
    may see) in sections, each shaped like an app of that list (so
    ``admin/app_list.html`` can show it) plus a ``description``; empty ones
    are left out, and Reports too without ``reports``. The pages of the apps
    in ``superusers_only`` say so."""
    pages = {page["model"]._meta.label: page for app in app_list for page in app["models"]}
    for label, page in pages.items():
        if label.split(".")[0] in superusers_only:
            pages[label] = {**page, "note": "Only superusers see this."}
    placed: set[str] = set()
    grouped: list[tuple[Section, list[dict[str, Any]]]] = []
    for section in SECTIONS:
        if section.name == "Reports":
            if reports:
                reported = (pages.get(Conversation._meta.label), pages.get(Broadcast._meta.label))
                grouped.append((section, _reports(*reported)))
            continue
        mine = {label: _position(label, section) for label in pages if label not in placed}
        chosen = sorted((p, label) for label, p in mine.items() if p is not None)
        grouped.append((section, [pages[label] for _, label in chosen]))
        placed.update(label for _, label in chosen)
    # In Django's order: by app, then by name.
    grouped.append((OTHER, [page for label, page in pages.items() if label not in placed]))
    return [
        {
            "name": section.name,
            "description": section.description,
            "app_label": section.name.lower(),
            "app_url": f"{index_url}#{section.name.lower()}",
            "has_module_perms": True,
            "models": models,
        }
        for section, models in grouped
        if models
    ]


def sidebar(site: admin.AdminSite, context: dict[str, Any]) -> None:
    """Show the same sections in the admin's side menu (``available_apps``,
    which Django fills with its apps on every page)."""
    index_url = reverse("admin:index", current_app=site.name)
    # Reports would repeat Conversations there, lit twice on their pages.
    context["available_apps"] = sections(
        context["available_apps"], index_url=index_url, reports=False
    )


# --- Figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One number at the top of the home page, and the list it counts."""

    value: int
    label: str
    url: str
    #: A short line under the label: what is counted, or what to do.
    note: str = ""
    #: When the number was counted, if it was kept for a while (else: now).
    counted_at: datetime.datetime | None = None
    #: Something a person should act on.
    alert: bool = False

    @property
    def shown(self) -> str:
        return f"{self.value:,}"


def _changelist(model: type[Model], **filters: str) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def _kept(key: str, count: Callable[[], int]) -> tuple[int, datetime.datetime]:
    """``count()`` and when it was counted, kept for ``CACHE_SECONDS``."""
    found = cache.get(key)
    if found is None:
        found = (count(), timezone.now())
        cache.set(key, found, CACHE_SECONDS)
    return found


def _today() -> datetime.date:
    """Today in the site's time zone (``TIME_ZONE``)."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


def subscribed() -> Figure:
    # An index-only scan of (list, state, subscribed_at): every subscribed contact's entry.
    value, at = _kept(
        "admin-home:subscribed",
        lambda: Contact.objects.filter(state=SubscriptionState.SUBSCRIBED).count(),
    )
    return Figure(
        value,
        "contacts subscribed",
        _changelist(Contact, state__exact=SubscriptionState.SUBSCRIBED),
        note="on all lists",
        counted_at=at,
    )


def sent_today() -> Figure:
    # The "sent" activity of each email (occurred_at is its sent_at), through
    # the (list, kind, occurred_at) index; deliveries have no index on sent_at.
    today = _today()
    midnight = datetime.datetime.combine(today, datetime.time(), timezone.get_default_timezone())
    value, at = _kept(
        f"admin-home:sent:{today.isoformat()}",
        lambda: Activity.objects.filter(
            list__in=List.objects.all(), kind=ActivityKind.EMAIL_SENT, occurred_at__gte=midnight
        ).count(),
    )
    # The activity list's date drill-down for today: the same day, in the same time zone.
    url = _changelist(
        Activity,
        kind__exact=ActivityKind.EMAIL_SENT,
        occurred_at__year=str(today.year),
        occurred_at__month=str(today.month),
        occurred_at__day=str(today.day),
    )
    return Figure(
        value, "emails sent today", url, note=f"since midnight, {settings.TIME_ZONE}", counted_at=at
    )


def in_conversations() -> Figure:
    value, at = _kept("admin-home:in-conversations", _count_in_conversations)
    url = _changelist(Enrollment, state__in=f"{EnrollmentState.ACTIVE},{EnrollmentState.SENDING}")
    return Figure(
        value,
        "contacts in conversations",
        url,
        note="waiting for their next step or email",
        counted_at=at,
    )


def _count_in_conversations() -> int:
    # Active and Sending apart, each through its partial index (enrollment_due,
    # enrollment_sending) reading only that index's column: index-only scans of
    # the contacts inside. "state IN (...)" would read an entry of every
    # enrollment ever made, finished ones included.
    inside = Enrollment.objects.order_by()  # no sort: they are only counted
    active = inside.filter(state=EnrollmentState.ACTIVE).values("due_at")
    sending = inside.filter(state=EnrollmentState.SENDING).values("step_entered_at")
    return active.union(sending, all=True).count()


def held() -> Figure:
    # An index-only scan of (step, state) for the Held ones: its entries are
    # deduplicated, so it reads few pages (1,605 for 2 million enrollments).
    value = Enrollment.objects.filter(state=EnrollmentState.HELD).count()
    url = _changelist(Enrollment, state__exact=EnrollmentState.HELD)
    if value:
        return Figure(
            value,
            "contacts held by an error",
            url,
            note="Read why, fix it, then resume them.",
            alert=True,
        )
    return Figure(value, "contacts held", url, note="none stopped by an error")


def segment_backlog() -> Figure:
    # The outbox holds only undelivered messages: small, unless Segment has
    # been refusing for hours, when it is read whole (its pending index is no shorter).
    value, at = _kept(
        "admin-home:segment-backlog",
        lambda: SegmentMessage.objects.filter(status=MessageStatus.PENDING).count(),
    )
    return Figure(
        value,
        "Segment backlog",
        _changelist(SegmentIntegration),
        note="messages waiting to go",
        counted_at=at,
    )


def dead_letters() -> Figure:
    value = SegmentMessage.objects.filter(status=MessageStatus.DEAD).count()  # its partial index
    url = _changelist(SegmentIntegration)
    if value:
        return Figure(
            value,
            "Segment dead letters",
            url,
            note="Refused for good: see why and retry them.",
            alert=True,
        )
    return Figure(value, "Segment dead letters", url, note="none refused")


def broadcasts_sending() -> Figure:
    # Scheduled and Sending broadcasts are read through their partial index
    # (broadcast_due): a handful of rows, counted afresh.
    value = Broadcast.objects.filter(status=BroadcastStatus.SENDING).count()
    url = _changelist(Broadcast, status__exact=BroadcastStatus.SENDING)
    return Figure(value, "broadcasts sending now", url, note="follow each on its page")


def broadcasts_scheduled() -> Figure:
    scheduled = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED)
    value = scheduled.count()
    url = _changelist(Broadcast, status__exact=BroadcastStatus.SCHEDULED)
    first = scheduled.order_by("send_at").values_list("send_at", flat=True).first()
    if first is None:
        return Figure(value, "broadcasts scheduled", url, note="none waiting to go")
    at = timezone.localtime(first, timezone.get_default_timezone())
    note = f"next {at:%a} {at.day} {at:%b} {at:%H:%M} {settings.TIME_ZONE}"
    return Figure(value, "broadcasts scheduled", url, note=note)


#: Each figure and the model whose list it links to: shown only to a user who may view it.
FIGURES: tuple[tuple[type[Model], Callable[[], Figure]], ...] = (
    (Contact, subscribed),
    (Activity, sent_today),
    (Enrollment, in_conversations),
    (Enrollment, held),
    (Broadcast, broadcasts_sending),
    (Broadcast, broadcasts_scheduled),
    (SegmentIntegration, segment_backlog),
    (SegmentIntegration, dead_letters),
)


def _may_view(request: HttpRequest, site: admin.AdminSite, model: type[Model]) -> bool:
    model_admin = site._registry.get(model)
    return model_admin is not None and model_admin.has_view_or_change_permission(request)


def figures(request: HttpRequest, site: admin.AdminSite) -> list[Figure]:
    """The figures this user may see, counted (or kept) now."""
    return [figure() for model, figure in FIGURES if _may_view(request, site, model)]


def _signups_note(grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Subscription points row says how many people signed up today (each
    list's today; bots apart), counted afresh: a marketer trying a form sees it."""
    for section in grouped:
        for n, page in enumerate(section["models"]):
            if page["model"] is SubscriptionPoint:
                today = signups_today()
                note = f"{today.people:,} signup{'s' if today.people != 1 else ''} today"
                if today.bots:
                    note += f" · {today.bots:,} bot{'s' if today.bots != 1 else ''} refused"
                section["models"][n] = {**page, "note": note}
    return grouped


def home_context(
    request: HttpRequest, site: admin.AdminSite, *, superusers_only: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What the home page (templates/admin/index.html) shows besides Django's
    own; the pages of the apps in ``superusers_only`` say they are theirs."""
    return {
        "home_page": True,
        "title": "Home",
        "sections": _signups_note(
            sections(
                site.get_app_list(request),
                index_url=reverse("admin:index", current_app=site.name),
                superusers_only=superusers_only,
            )
        ),
        "figures": figures(request, site),
        "cache_seconds": CACHE_SECONDS,
    }
