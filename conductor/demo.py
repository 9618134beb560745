"""The demo's conversations, for ``seed_demo`` (``contacts.demo``): a
published welcome series and an abandoned-cart conversation, with a week of
history so that every report has figures on a first visit.

- **Welcome series** (a signup through the shop's Footer or Pop-up
  subscription point: their events, "Signup: Footer" and "Signup: Pop-up",
  which ``signups.demo`` gives the two points): contacts welcomed before go
  to the end → give a welcome code (Set Coupon) → send "Welcome" with it,
  or to those the pop-up brought in, "Welcome (pop-up)", the 10% off it
  promised → wait two days → contacts who clicked go to the end (a Go To on
  engagement) → the others get "Your code is waiting" → terminate.
- **Abandoned cart** (the "Cart Abandoned" event): wait an hour → send "You
  left something behind", naming the product from the event → terminate.

The history is made by the engine itself, as production makes it: contacts
enter, the workers send through the development mailbox (nothing leaves the
machine; with any other email backend the history is left out), some
contacts open and click through the tracking code and buy, and then each
contact's rows are moved back in time by a few days, so that its Wait has
ended and the engine runs the rest. Running it again adds nothing.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import (
    Conversation,
    Coupon,
    CouponKind,
    CouponPool,
    Enrollment,
    Step,
    StepKind,
    StepRun,
    Trigger,
    TriggerKind,
)
from conductor.versions import create_conversation, publish, working_version
from contacts.models import Activity, Contact, SubscriptionState
from contacts.services import fire_event, fire_events
from emails.models import Delivery, DeliveryStatus, MailboxEmail, Message
from emails.tracking.engagement import Visitor, record_click, record_open
from lists.models import DataType, Event, List, ProfileField
from lists.services import create_event, create_field

WELCOME_SERIES = "Welcome series"
ABANDONED_CART = "Abandoned cart"
#: Only these backends keep the history's emails on this machine.
LOCAL_BACKENDS = (
    "emails.mailbox.MailboxBackend",
    "django.core.mail.backends.locmem.EmailBackend",
)
#: The events of the demo's subscription points (``signups.demo`` makes the
#: points with them): the welcome series' two triggers.
FOOTER_EVENT = "Signup: Footer"
POPUP_EVENT = "Signup: Pop-up"
SHOP = "https://demo-store.example"
WELCOME_HTML = """<h1>Welcome, {{ profile.first_name|default:"friend" }}!</h1>
<p>Thanks for joining the Demo Store newsletter: new arrivals and members' offers, once a week.</p>
<p>A welcome gift for your first order: <strong>{{ coupon }}</strong></p>
<p><a href="https://demo-store.example/new-arrivals">See what's new</a>
or <a href="https://demo-store.example/bestsellers">shop the bestsellers</a>.</p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
WELCOME_POPUP_HTML = """<h1>Here is your 10% off, {{ profile.first_name|default:"friend" }}!</h1>
<p>As promised when you joined: 10% off your first order with this code.</p>
<p style="font-size: 22px"><strong>{{ coupon }}</strong></p>
<p><a href="https://demo-store.example/new-arrivals">Spend it on what's new</a>
or <a href="https://demo-store.example/bestsellers">on the bestsellers</a>.</p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
REMINDER_HTML = """<p>Hi {{ profile.first_name|default:"there" }},</p>
<p>Your welcome code <strong>{{ coupon }}</strong> is still waiting for you.</p>
<p><a href="https://demo-store.example/bestsellers">Find something you love</a></p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
CART_HTML = """<p>Hi {{ profile.first_name|default:"there" }},</p>
<p>You left <strong>{{ trigger.data.product|default:"something" }}</strong> in your cart.</p>
<p><a href="https://demo-store.example/cart">Finish your order</a></p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
PRODUCTS = ["Linen shirt", "Walking boots", "Wool scarf", "Canvas tote", "Rain jacket"]

Say = Callable[[str], None]


def seed(email_list: List, say: Say) -> None:
    """The two conversations on ``email_list`` and their history, once."""
    if Conversation.objects.filter(list=email_list, name=WELCOME_SERIES).exists():
        return
    with transaction.atomic():  # both, or neither (then the next run makes them)
        welcome = _welcome_series(email_list)
        cart = _abandoned_cart(email_list)
    say(f"Conversations “{welcome.name}” and “{cart.name}” are published.")
    if settings.EMAIL_BACKEND not in LOCAL_BACKENDS:
        say(f"No demo history: EMAIL_BACKEND {settings.EMAIL_BACKEND} would really send it.")
        return
    _history(email_list, cart, random.Random(2026))
    say("A week of history is in the reports; its emails are in Emails › Development mailbox.")  # noqa: RUF001 - the admin's breadcrumb sign


def _message(email_list: List, name: str, subject: str, html: str) -> Message:
    message = Message(list=email_list, name=name, subject=subject, html_body=html)
    message.full_clean()  # the template checks a marketer's message passes
    message.save()
    return message


def _text_field(email_list: List, name: str) -> ProfileField:
    field = ProfileField.objects.filter(list=email_list, name__iexact=name).first()
    if field is not None:
        return field
    group = email_list.field_groups.order_by("position", "pk").first()
    assert group is not None, "seed_demo makes the list's field group first"
    return create_field(group=group, name=name, data_type=DataType.TEXT, max_length=40)


def _steps(conversation: Conversation, *steps: tuple[str, str, dict[str, Any]]) -> list[Step]:
    version = working_version(conversation)
    main = version.threads.get(is_main=True)
    return [
        Step.objects.create(
            version=version, thread=main, position=position, kind=kind, name=name, settings=s
        )
        for position, (kind, name, s) in enumerate(steps)
    ]


def _event(email_list: List, name: str) -> Event:
    found = Event.objects.filter(list=email_list, name__iexact=name).first()
    return found or create_event(email_list=email_list, name=name)


def _welcome_series(email_list: List) -> Conversation:
    code_field = _text_field(email_list, "Welcome Code")
    pool = CouponPool.objects.create(
        list=email_list, name="Welcome 10% off", kind=CouponKind.UNIQUE
    )
    rng = random.Random(7)
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    Coupon.objects.bulk_create(
        Coupon(pool=pool, code="WELCOME-" + "".join(rng.choice(letters) for _ in range(6)))
        for _ in range(1000)
    )
    welcome = _message(email_list, "Welcome", "Welcome to Demo Store", WELCOME_HTML)
    welcome_popup = _message(
        email_list, "Welcome (pop-up)", "Your 10% off code, as promised", WELCOME_POPUP_HTML
    )
    reminder = _message(email_list, "Welcome reminder", "Your code is waiting", REMINDER_HTML)
    conversation = create_conversation(email_list=email_list, name=WELCOME_SERIES)
    # Entered by the points' events, not by the first-ever subscription: a
    # signup subscribes the contact before its point's event fires, so that
    # trigger would always come first, and a contact is inside a
    # conversation once: the pop-up's trigger, and so its variant, would
    # never count.
    Trigger.objects.create(
        conversation=conversation,
        kind=TriggerKind.EXTERNAL_EVENT,
        event=_event(email_list, FOOTER_EVENT),
    )
    by_popup = Trigger.objects.create(
        conversation=conversation,
        kind=TriggerKind.EXTERNAL_EVENT,
        event=_event(email_list, POPUP_EVENT),
    )
    variants = [{"trigger": by_popup.pk, "message": welcome_popup.pk}]
    steps = _steps(
        conversation,
        # A point's event fires for an address already subscribed too: one
        # welcome (and one code) per contact.
        (StepKind.GO_TO, "Welcomed before? Then we are done", {"target": None, "criteria": None}),
        (
            StepKind.ACTION,
            "Give a welcome code",
            {"action": "SetCoupon", "pool": pool.pk, "field": code_field.pk},
        ),
        (StepKind.MESSAGE, "Send the welcome email", {"message": welcome.pk, "variants": variants}),
        (StepKind.WAIT, "Wait two days", {"kind": "duration", "days": 2}),
        (StepKind.GO_TO, "Clicked? Then we are done", {"target": None, "criteria": None}),
        (StepKind.MESSAGE, "Remind the others", {"message": reminder.pk, "variants": []}),
        (StepKind.TERMINATE, "Done", {}),
    )
    welcomed, clicked, end = steps[0], steps[4], steps[6]
    welcomed.settings = {
        "target": str(end.key),
        "criteria": {
            "filters": [{"segmentationFieldId": code_field.pk, "compareType": "IsNotEmpty"}]
        },
    }
    welcomed.save(update_fields=["settings"])
    clicked.settings = {
        "target": str(end.key),
        "criteria": {
            "filters": [
                {"engagement": "Clicked", "message": welcome.pk},
                {"joinType": "Or", "engagement": "Clicked", "message": welcome_popup.pk},
            ]
        },
    }
    clicked.save(update_fields=["settings"])
    publish(conversation)
    return conversation


def _abandoned_cart(email_list: List) -> Conversation:
    event = _event(email_list, "Cart Abandoned")
    cart = _message(email_list, "Cart reminder", "You left something behind", CART_HTML)
    conversation = create_conversation(email_list=email_list, name=ABANDONED_CART)
    Trigger.objects.create(conversation=conversation, kind=TriggerKind.EXTERNAL_EVENT, event=event)
    _steps(
        conversation,
        (StepKind.WAIT, "Wait an hour", {"kind": "duration", "hours": 1}),
        (StepKind.MESSAGE, "Send the cart reminder", {"message": cart.pk, "variants": []}),
        (StepKind.TERMINATE, "Done", {}),
    )
    publish(conversation)
    return conversation


def _history(email_list: List, cart: Conversation, rng: random.Random) -> None:
    """Contacts enter both conversations, the engine sends, some open, click
    and buy; then each contact's rows move back 0 to 8 days and the engine
    runs what has come due since."""
    started = timezone.now()
    subscribed = list(
        Contact.objects.filter(list=email_list, state=SubscriptionState.SUBSCRIBED).order_by("pk")
    )
    # They joined through the points, a third through the pop-up.
    joiners = subscribed[:120]
    for point, event, contacts in [
        ("Footer", _event(email_list, FOOTER_EVENT), [c for n, c in enumerate(joiners) if n % 3]),
        ("Pop-up", _event(email_list, POPUP_EVENT), joiners[::3]),
    ]:
        fire_events(event=event, contacts=contacts, data={"subscription_point": point})
    abandon = Event.objects.get(list=email_list, name__iexact="Cart Abandoned")
    shoppers = rng.sample(subscribed[120:], min(40, len(subscribed[120:])))
    for contact in shoppers:
        data = {"product": rng.choice(PRODUCTS), "cart_total": rng.randrange(2000, 20000) / 100}
        fire_event(event=abandon, contact=contact, data=data)
    run_due()
    # The abandoned carts' hour passes at once; the shift below dates them.
    Enrollment.objects.filter(conversation=cart, due_at__isnull=False).update(due_at=started)
    run_due()
    _engage(rng, email_list)
    days = {c.pk: rng.randrange(0, 9) for c in [*joiners, *shoppers]}
    for contact_id, back in days.items():
        _move_back(contact_id, datetime.timedelta(days=back, hours=rng.randrange(0, 20)), started)
    before = timezone.now()
    run_due()  # Waits that ended in the moved-back time: the Go To, reminders
    _engage(rng, email_list, since=before)
    for contact_id, back in days.items():
        if back > 2:
            ago = datetime.timedelta(days=back - 2, hours=rng.randrange(0, 12))
            _move_back(contact_id, ago, before)


def _engage(rng: random.Random, email_list: List, since: datetime.datetime | None = None) -> None:
    """Opens, clicks and purchases for the sent emails (since ``since``),
    through the tracking code's own functions."""
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT, contact__list=email_list)
    if since is not None:
        sent = sent.filter(sent_at__gte=since)
    purchase = Event.objects.filter(list=email_list, name__iexact="Purchase").first()
    phone = Visitor(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
    for delivery in sent.select_related("contact", "message").order_by("pk"):
        if rng.random() < 0.55:
            record_open(delivery, phone)
            if rng.random() < 0.45:
                link = delivery.message.links.order_by("pk").first()
                record_click(delivery, phone, link=link)
                if purchase is not None and rng.random() < 0.4:
                    total = rng.randrange(1500, 25000) / 100
                    fire_event(event=purchase, contact=delivery.contact, data={"orderTotal": total})


def _move_back(contact_id: int, ago: datetime.timedelta, since: datetime.datetime) -> None:
    """Date the rows of one contact written since ``since`` ``ago`` earlier."""
    enrollments = Enrollment.objects.filter(contact_id=contact_id, entered_at__gte=since)
    for enrollment in enrollments:
        enrollment.entered_at -= ago
        enrollment.step_entered_at -= ago
        enrollment.due_at = enrollment.due_at - ago if enrollment.due_at else None
        enrollment.finished_at = enrollment.finished_at - ago if enrollment.finished_at else None
        enrollment.save(update_fields=["entered_at", "step_entered_at", "due_at", "finished_at"])
    for run in StepRun.objects.filter(enrollment__contact_id=contact_id, ran_at__gte=since):
        run.ran_at -= ago
        run.save(update_fields=["ran_at"])
    for delivery in Delivery.objects.filter(contact_id=contact_id, created_at__gte=since):
        delivery.created_at -= ago
        delivery.sent_at = delivery.sent_at - ago if delivery.sent_at else None
        delivery.save(update_fields=["created_at", "sent_at"])
    for activity in Activity.objects.filter(contact_id=contact_id, occurred_at__gte=since):
        activity.occurred_at -= ago
        activity.save(update_fields=["occurred_at"])
    Coupon.objects.filter(
        Q(assigned_at__gte=since), step_run__enrollment__contact_id=contact_id
    ).update(assigned_at=timezone.now() - ago)
    email = Contact.objects.filter(pk=contact_id).values_list("email", flat=True).first()
    if email:
        for kept in MailboxEmail.objects.filter(recipients__contains=email, created_at__gte=since):
            kept.created_at -= ago
            kept.save(update_fields=["created_at"])
