"""The contact's admin page beyond its form: the subscription in words with
its buttons, the story (activity in words, ``contacts.story``), profile
values read-only for staff who may only view, and the story's own pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from contacts.activity_words import EMPTY
from contacts.models import Contact, SubscribeMethod, SubscriptionState, UnsubscribeMethod
from contacts.own_activity_words import CONSENT_BY
from contacts.services import subscribe_contact, unsubscribe_contact
from contacts.story import PAGE, RECENT, StoryPage, story_page
from lists.models import DataType, ProfileField

if TYPE_CHECKING:
    from contacts.admin import ContactAdmin

WHEN = "%Y-%m-%d %H:%M UTC"
MAX_ID_DIGITS = 18


@dataclass(frozen=True)
class Subscription:
    """The contact's subscription in words, and what staff may do about it."""

    words: str
    #: The buttons this user may press ("subscribe", "unsubscribe"): none
    #: for staff who may not change contacts.
    buttons: list[str]
    #: Subscribing takes the person's consent: the staff member confirms it.
    consent: str


def subscription(contact: Contact, *, may_change: bool) -> Subscription:
    """The contact's subscription in words: its state, since when, by which
    method, and what came before."""
    subscribe = f" (method {contact.subscribe_method})" if contact.subscribe_method else ""
    unsubscribe = f" (method {contact.unsubscribe_method})" if contact.unsubscribe_method else ""
    first = f"first subscribed on {contact.subscribed_at:{WHEN}}" if contact.subscribed_at else ""
    if contact.state == SubscriptionState.SUBSCRIBED and contact.resubscribed_at:
        parts = [f"Subscribed again since {contact.resubscribed_at:{WHEN}}{subscribe}", first]
        if contact.unsubscribed_at:
            parts.append(f"last unsubscribed on {contact.unsubscribed_at:{WHEN}}{unsubscribe}")
        buttons = ["unsubscribe"]
    elif contact.state == SubscriptionState.SUBSCRIBED:
        parts = [f"Subscribed since {contact.subscribed_at:{WHEN}}{subscribe}"]
        buttons = ["unsubscribe"]
    elif contact.state == SubscriptionState.PENDING:
        parts = [f"Waiting for the double opt-in confirmation{subscribe}"]
        buttons = ["subscribe", "unsubscribe"]
    elif contact.state == SubscriptionState.NEVER_SUBSCRIBED:
        parts = [
            "Never subscribed: on the list only to receive transactional email "
            "(an order confirmation, a password reset), never marketing"
        ]
        buttons = ["subscribe"]
    else:
        parts = [f"Unsubscribed on {contact.unsubscribed_at:{WHEN}}{unsubscribe}", first]
        buttons = ["subscribe"]
    again = " again" if contact.state == SubscriptionState.UNSUBSCRIBED else ""
    return Subscription(
        words="; ".join(part for part in parts if part) + ".",
        buttons=buttons if may_change else [],
        consent=f"{contact.email} asked to be subscribed{again}: I confirm their consent.",
    )


def page_context(model_admin: ContactAdmin, request: HttpRequest, contact: Contact) -> dict:
    """What the contact's page shows besides its form."""
    story = story_page(contact=contact, user=request.user, size=RECENT)
    return {
        "subscription": subscription(
            contact, may_change=model_admin.has_change_permission(request, contact)
        ),
        "subscription_url": reverse("admin:contacts_contact_subscription", args=[contact.pk]),
        "story": story,
        "older_url": _older_url(contact, story),
    }


def _older_url(contact: Contact, story: StoryPage) -> str:
    if story.older_than is None:
        return ""
    url = reverse("admin:contacts_contact_activity", args=[contact.pk])
    return f"{url}?{urlencode({'before': story.older_than.pk})}"


class SubscriptionForm(forms.Form):
    action = forms.ChoiceField(choices=[("subscribe", "Subscribe"), ("unsubscribe", "Unsubscribe")])
    consent = forms.BooleanField(required=False)


def subscription_view(
    model_admin: ContactAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Subscribe or unsubscribe the contact through the services, as staff
    holding the right to change contacts. Subscribing an unsubscribed or
    pending contact takes the staff member's word that the person consented;
    the activity records who gave it."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    contact = _contact(model_admin, request, object_id)
    if not model_admin.has_change_permission(request, contact):
        raise PermissionDenied(
            "Subscribing and unsubscribing need the permission to change contacts."
        )
    back = redirect("admin:contacts_contact_change", contact.pk)
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Nothing changed: the form asked for neither subscribe nor unsubscribe."
        )
        return back
    if form.cleaned_data["action"] == "unsubscribe":
        _unsubscribe(model_admin, request, contact)
    else:
        _subscribe(model_admin, request, contact, consent=form.cleaned_data["consent"])
    return back


def _unsubscribe(model_admin: ContactAdmin, request: HttpRequest, contact: Contact) -> None:
    if contact.state == SubscriptionState.UNSUBSCRIBED:
        messages.warning(request, f"Nothing changed: {contact.email} was already unsubscribed.")
        return
    if contact.state == SubscriptionState.NEVER_SUBSCRIBED:
        messages.warning(
            request,
            f"Nothing changed: {contact.email} never subscribed; it is only sent "
            "transactional email.",
        )
        return
    unsubscribe_contact(contact=contact, method=UnsubscribeMethod.ADMIN)
    model_admin.log_change(request, contact, "Unsubscribed.")
    messages.success(request, f"Unsubscribed {contact.email} from “{contact.list}”.")


def _subscribe(
    model_admin: ContactAdmin, request: HttpRequest, contact: Contact, *, consent: bool
) -> None:
    if contact.state == SubscriptionState.SUBSCRIBED:
        messages.warning(request, f"Nothing changed: {contact.email} was already subscribed.")
        return
    if not consent:
        messages.error(
            request,
            f"Not subscribed: tick the box to confirm that {contact.email} gave their consent. "
            "An address that unsubscribed is never subscribed again without it.",
        )
        return
    try:
        result = subscribe_contact(
            email_list=contact.list,
            email=contact.email,
            method=SubscribeMethod.ADMIN,
            override_unsubscribe=True,
            details={CONSENT_BY: request.user.get_username()},
        )
    except ValidationError as error:
        messages.error(request, f"Not subscribed: {' '.join(error.messages)}")
        return
    model_admin.log_change(request, contact, f"{result.outcome}, with the person's consent.")
    messages.success(
        request,
        f"{result.outcome} {contact.email} to “{contact.list}”, with their consent recorded.",
    )


def story_view(model_admin: ContactAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """The contact's whole story, a page at a time, for staff who may view it."""
    contact = _contact(model_admin, request, object_id)
    if not model_admin.has_view_permission(request, contact):
        raise PermissionDenied("The activity of a contact needs the permission to view contacts.")
    before = None
    raw = request.GET.get("before", "")
    if raw:
        # Ids are 64-bit: a longer number is no id (and would overflow the query).
        is_id = raw.isdigit() and len(raw) <= MAX_ID_DIGITS
        before = contact.activities.filter(pk=int(raw)).first() if is_id else None
        if before is None:
            messages.error(
                request, "That page of activity is not this contact's: here is the newest."
            )
    story = story_page(contact=contact, user=request.user, before=before, size=PAGE)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Contact._meta,
        "original": contact,
        "title": f"Activity of {contact.email}",
        "subtitle": f"On the list “{contact.list}”, newest first",
        "story": story,
        "older_url": _older_url(contact, story),
        "newest_url": reverse("admin:contacts_contact_activity", args=[contact.pk])
        if before
        else "",
    }
    return TemplateResponse(request, "admin/contacts/contact/activity.html", context)


def _contact(model_admin: ContactAdmin, request: HttpRequest, object_id: str) -> Contact:
    contact = model_admin.get_object(request, unquote(object_id))
    if contact is None:
        raise Http404("No such contact.")
    return contact


def profile_display(field: ProfileField) -> Callable[[Contact], str]:
    """The contact's value of ``field`` as the admin shows it read-only (to
    staff who may only view contacts: the form's fields are not the model's)."""

    def show(contact: Contact) -> str:
        value = contact.profile.get(field.key)
        if value is None or value == "":
            return EMPTY
        if field.data_type in (DataType.CHECK_BOX, DataType.RADIO_BUTTON):
            return {"on": "Yes", "off": "No"}.get(str(value), str(value))
        return str(value)

    show.__name__ = f"profile_{field.pk}"
    return admin.display(description=field.name)(show)
