"""Pages for the people on the lists (not staff): the double opt-in confirmation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from contacts.models import SubscriptionState
from contacts.optin import confirm_subscription, contact_for_token
from contacts.services import Outcome


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_subscription_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that follow every link
    in a message (GET) must not subscribe anyone."""
    contact = contact_for_token(token)
    if contact is None:
        return render(request, "contacts/optin/invalid.html", status=404)
    context = {"list_name": contact.list.name, "email": contact.email}
    if request.method == "GET":
        templates: dict[str, str] = {
            SubscriptionState.PENDING: "contacts/optin/confirm.html",
            SubscriptionState.SUBSCRIBED: "contacts/optin/already_subscribed.html",
        }
        template = templates.get(contact.state, "contacts/optin/closed.html")
        return render(request, template, context)
    outcome = confirm_subscription(contact=contact).outcome
    if outcome in (Outcome.SUBSCRIBED, Outcome.RESUBSCRIBED):
        return render(request, "contacts/optin/subscribed.html", context)
    if outcome == Outcome.ALREADY_SUBSCRIBED:
        return render(request, "contacts/optin/already_subscribed.html", context)
    # Unsubscribed, banned or suppressed since the email went out.
    return render(request, "contacts/optin/closed.html", context)
