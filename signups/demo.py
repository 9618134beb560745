"""The demo's subscription points, for ``seed_demo`` (``contacts.demo``): a
"Footer" form and a "Pop-up" on the demo list, each firing the event that
enters the demo's welcome series (``conductor.demo``), whose welcome email
has a variant for the pop-up's contacts. The history's contacts who joined
through them count as their signups, so the points' report has figures on
a first visit. Running it again adds nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from conductor.demo import FOOTER_EVENT, POPUP_EVENT
from contacts.models import Activity, ActivityKind
from lists.models import Event, List
from lists.services import create_event
from signups.models import PointField, PopupOpening, Signup, SignupOutcome, SubscriptionPoint
from signups.services import save_point
from signups.snippets import hosted_url

#: Where to try the snippets on a page of one's own: ``python3 -m http.server
#: 8080`` in a folder holding it (README: "Add a signup form or pop-up to a shop").
TRY_ORIGINS = "http://localhost:8080\nhttp://127.0.0.1:8080"


@dataclass(frozen=True)
class DemoPoint:
    name: str
    event: str
    heading: str
    intro: str
    button_label: str
    thank_you_text: str
    first_name_required: bool


POINTS = [
    DemoPoint(
        name="Footer",
        event=FOOTER_EVENT,
        heading="Join our newsletter",
        intro="New arrivals and members' offers, once a week.",
        button_label="Subscribe",
        thank_you_text="Thank you for joining! Your welcome email is on its way.",
        first_name_required=False,
    ),
    DemoPoint(
        name="Pop-up",
        event=POPUP_EVENT,
        heading="Get 10% off your first order",
        intro="Join our newsletter and we'll email you a code.",
        button_label="Send me my code",
        thank_you_text="Thank you! Your 10% off code is on its way to your inbox.",
        first_name_required=True,
    ),
]


def seed(email_list: List, say: Callable[[str], None]) -> None:
    """The points on ``email_list`` that it does not have yet."""
    made: list[SubscriptionPoint] = []
    for spec in POINTS:
        if not SubscriptionPoint.objects.filter(list=email_list, name__iexact=spec.name).exists():
            made.append(_make(email_list, spec))
    if made:
        pages = ", ".join(f"{point.name} {hosted_url(point)}" for point in made)
        say(f"Subscription points take signups at their pages: {pages}.")


@transaction.atomic
def _make(email_list: List, spec: DemoPoint) -> SubscriptionPoint:
    event = Event.objects.filter(list=email_list, name__iexact=spec.event).first()
    point = SubscriptionPoint(
        list=email_list,
        name=spec.name,
        event=event or create_event(email_list=email_list, name=spec.event),
        heading=spec.heading,
        intro=spec.intro,
        button_label=spec.button_label,
        thank_you_text=spec.thank_you_text,
        allowed_origins=TRY_ORIGINS,
        popup_opening=PopupOpening.DELAY,
        popup_delay_seconds=5,
    )
    point.full_clean()
    save_point(point)
    first_name = email_list.profile_fields.filter(name__iexact="First Name").first()
    if first_name is not None:
        PointField.objects.create(
            point=point, field=first_name, required=spec.first_name_required, position=1
        )
    # The history's joiners came through the points (their events fired).
    joined = Activity.objects.filter(
        list=email_list, kind=ActivityKind.EVENT_FIRED, details__event_id=point.event_id
    ).values_list("contact_id", "occurred_at")
    Signup.objects.bulk_create(
        Signup(point=point, contact_id=contact, outcome=SignupOutcome.SUBSCRIBED, created_at=when)
        for contact, when in joined
    )
    return point
