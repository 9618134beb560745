"""What the broadcast and split test pages both show: an audience in words,
how many contacts it reaches now (the line the page's script keeps up to
date), and why a message cannot be sent as a broadcast yet."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from broadcasts.admin_display import count
from broadcasts.admin_forms import count_url
from broadcasts.audiences import matching_contacts
from broadcasts.models import Campaign, SavedAudience
from broadcasts.services import check_sendable
from conductor.filters import parse_criteria
from conductor.filters.words import criteria_words
from conductor.steps.context import Names
from emails.models import Message
from lists.models import List, ProfileField


def list_words(obj: Any) -> SafeString:
    """The list of a broadcast or split test, with its time zone; on a new
    one, when there are others, a link to choose another."""
    shown = format_html(
        "{} <span class='quiet'>(time zone {})</span>", obj.list.name, obj.list.time_zone
    )
    if obj.pk is None and List.objects.exclude(pk=obj.list_id).exists():
        opts = obj._meta
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        shown = format_html('{} · <a href="{}?list=">Choose another list</a>', shown, add)
    return shown


def audience_words(
    email_list: List, *, criteria: dict[str, Any], saved_audience: SavedAudience | None
) -> str:
    """ "Everyone subscribed to Shop", "The saved audience “VIPs”: VIP is
    checked", "Subscribed contacts where First Name is “Ada”"."""
    if saved_audience is not None:
        return (
            f"The saved audience “{saved_audience}”: {_words(email_list, saved_audience.criteria)}"
        )
    if criteria:
        return f"Subscribed contacts of {email_list} where {_words(email_list, criteria)}"
    return f"Everyone subscribed to {email_list}"


def _words(email_list: List, criteria: dict[str, Any]) -> str:
    if not criteria:
        return "everyone subscribed"
    try:
        settings = parse_criteria(email_list, criteria).to_settings()
    except ValidationError as error:
        return f"conditions that no longer fit the list ({' '.join(error.messages)})"
    fields = ProfileField.objects.filter(list=email_list)
    names = Names(
        messages={},
        fields=dict(fields.values_list("pk", "name")),
        pools={},
        events={},
        steps={},
        field_types=dict(fields.values_list("pk", "data_type")),
    )
    return criteria_words(settings, names)


def reach(obj: Any, *, what: str) -> SafeString:
    """ "This broadcast reaches 1,204 contacts now.", counted for ``obj``'s
    audience as saved (a broadcast or split test; new: everyone), in an
    element the page's script counts again as the audience is changed."""
    email_list = obj.list
    try:
        contacts = matching_contacts(
            email_list, criteria=obj.criteria or {}, saved_audience=obj.saved_audience
        )
        said = format_html(
            "This {} reaches <strong>{}</strong> now.", what, count(contacts.count(), "contact")
        )
    except ValidationError as error:
        said = format_html("No count: {}", " ".join(error.messages))
    return format_html(
        '<p class="audience-reach" id="audience-reach" aria-live="polite" data-count-url="{}" '
        'data-what="{}">{}</p><p class="reach-help quiet">The list\'s subscribed contacts it '
        "would go to if it were sent now; unsubscribed, banned and suppressed addresses are "
        "never sent to.</p>",
        count_url(email_list),
        what,
        said,
    )


def sendable_warnings(message: Message) -> list[str]:
    """Why ``message`` cannot be sent as a broadcast, in words; none if it can."""
    try:
        check_sendable(message)
    except ValidationError as error:
        return list(error.messages)
    return []


def narrowed(columns: Any) -> list[str]:
    """The list's columns, less the list when there is one only and the
    campaign while there is none: room for the figures."""
    shown = list(columns)
    if List.objects.count() <= 1:
        shown.remove("list")
    if not Campaign.objects.exists():
        shown.remove("campaign")
    return shown
