"""What staff copy into the shop's site to use a point: the hosted page's
address, an HTML form, and the pop-up's script tag."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from signups.forms import HONEYPOT, SignupForm
from signups.models import SubscriptionPoint
from signups.views import post_url


def hosted_url(point: SubscriptionPoint) -> str:
    """The hosted page, for links and QR codes."""
    return post_url(point)


def popup_tag(point: SubscriptionPoint) -> str:
    """The pop-up: one script tag, anywhere in the page."""
    src = settings.PUBLIC_BASE_URL + reverse("signup-popup-script", kwargs={"key": point.key})
    return f'<script src="{src}" async></script>'


def html_form(point: SubscriptionPoint) -> str:
    """A plain HTML form posting to the point, with the honeypot and the
    small script that gives it its fill-time token. Without that script (or
    with JavaScript off) a post gets the hosted page back, filled in, to send
    again: nothing is lost."""
    script = settings.PUBLIC_BASE_URL + reverse("signup-form-script", kwargs={"key": point.key})
    return render_to_string(
        "signups/snippet_form.html",
        {
            "point": point,
            # Ids of the point's own: the shop's page has ids of its own.
            "form": SignupForm(point, auto_id=f"signup-{point.key}-%s"),
            "honeypot": HONEYPOT,
            "action": post_url(point),
            "script": script,
        },
    ).strip()
