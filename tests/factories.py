"""factory-boy factories of every app's rows, for tests whose rows' exact
construction is not the point. Relations default to rows of the same list:
a Message's list, a Version's conversation, an Enrollment's contact."""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.db.models import Max, QuerySet
from django.utils import timezone

from conductor.engine.step_emails import step_run_type
from conductor.models import (
    ChildEvent,
    Conversation,
    Coupon,
    CouponKind,
    CouponPool,
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
    StepOutcome,
    StepRun,
    Thread,
    Trigger,
    TriggerKind,
    Version,
)
from contacts.models import Contact, SubscriptionState
from emails.models import Delivery, Message
from integrations.models import DEFAULT_ENDPOINT, SegmentIntegration, SegmentListSync
from integrations.segment.services import ensure_shards
from lists.models import DataType, Event, List, ProfileField, ProfileFieldGroup


class ListFactory(factory.django.DjangoModelFactory[List]):
    class Meta:
        model = List

    name = factory.Sequence(lambda n: f"List {n}")
    from_name = "Shop"
    from_email = "news@shop.example"
    time_zone = "America/New_York"


class ProfileFieldGroupFactory(factory.django.DjangoModelFactory[ProfileFieldGroup]):
    class Meta:
        model = ProfileFieldGroup

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class ProfileFieldFactory(factory.django.DjangoModelFactory[ProfileField]):
    class Meta:
        model = ProfileField

    group = factory.SubFactory(ProfileFieldGroupFactory)
    list = factory.SelfAttribute("group.list")
    name = factory.Sequence(lambda n: f"Field {n}")
    data_type = DataType.TEXT
    max_length = 50


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Event {n}")


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    list = factory.SubFactory(ListFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    state = SubscriptionState.SUBSCRIBED
    subscribed_at = factory.Faker("past_datetime", tzinfo=datetime.UTC)
    subscribe_method = "API"


# --- Conductor ---------------------------------------------------------------


def next_position(siblings: QuerySet[Any]) -> int:
    """The position after the last of ``siblings``: 0 for the first."""
    last = siblings.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Message {n}")
    subject = "Hello"
    text_body = "Hello"


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    """A conversation with its working version and that version's main thread,
    as ``conductor.versions.create_conversation`` makes it."""

    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Conversation {n}")
    working_version = factory.RelatedFactory(
        "tests.factories.VersionFactory", factory_related_name="conversation"
    )


class VersionFactory(factory.django.DjangoModelFactory[Version]):
    """The next version of its conversation (working unless ``published_at``
    is given), with its main thread."""

    class Meta:
        model = Version
        skip_postgeneration_save = True

    conversation = factory.SubFactory(ConversationFactory, working_version=None)
    number = factory.LazyAttribute(
        lambda version: (version.conversation.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    )
    published_at = None
    main_thread = factory.RelatedFactory(
        "tests.factories.ThreadFactory", factory_related_name="version"
    )


class ThreadFactory(factory.django.DjangoModelFactory[Thread]):
    """A version's main thread, or with ``parent_step`` a child thread hanging
    off that Wait (for contacts who opened the message, unless ``child_event``
    says otherwise), after the version's other threads."""

    class Meta:
        model = Thread

    parent_step = None
    version = factory.Maybe(
        "parent_step",
        yes_declaration=factory.SelfAttribute("parent_step.version"),
        no_declaration=factory.SubFactory(VersionFactory, main_thread=None),
    )
    is_main = factory.LazyAttribute(lambda thread: thread.parent_step is None)
    child_event = factory.Maybe("parent_step", yes_declaration=ChildEvent.OPENED, no_declaration="")
    name = factory.LazyAttribute(
        lambda thread: f"On {thread.child_event}" if thread.parent_step else "Main"
    )
    position = factory.LazyAttribute(lambda thread: next_position(thread.version.threads.all()))


def default_settings(step: Any) -> dict[str, Any]:
    """Settings a step of ``step.kind`` publishes with: a new message of the
    list to send, a one-day wait, a new event of the list to fire, a jump to
    the thread's first step; none for a Terminate (or a kind of another app)."""
    email_list = step.thread.version.conversation.list
    if step.kind == StepKind.MESSAGE:
        return {"message": MessageFactory.create(list=email_list).pk, "variants": []}
    if step.kind == StepKind.WAIT:
        return {"kind": "duration", "days": 1}
    if step.kind == StepKind.ACTION:
        return {"action": "FireEvent", "event": EventFactory.create(list=email_list).pk}
    if step.kind == StepKind.GO_TO:
        first = step.thread.steps.order_by("position", "id").first()
        return {"target": str(first.key) if first else None, "criteria": None}
    return {}


class StepFactory(factory.django.DjangoModelFactory[Step]):
    """A step at the end of its thread: a Terminate, or a step of ``kind``
    with that kind's ``default_settings`` unless ``settings`` are given."""

    class Meta:
        model = Step

    thread = factory.SubFactory(ThreadFactory)
    version = factory.SelfAttribute("thread.version")
    position = factory.LazyAttribute(lambda step: next_position(step.thread.steps.all()))
    kind = StepKind.TERMINATE
    settings = factory.LazyAttribute(default_settings)


def add_step(thread: Thread, kind: str, /, name: str = "", **settings: Any) -> Step:
    """A step of ``kind`` with exactly ``settings`` at the end of ``thread``."""
    return StepFactory.create(thread=thread, kind=kind, name=name, settings=settings)


class TriggerFactory(factory.django.DjangoModelFactory[Trigger]):
    """A first-ever subscription trigger, or an external event one when
    given its ``event``."""

    class Meta:
        model = Trigger

    conversation = factory.SubFactory(ConversationFactory)
    event = None
    kind = factory.LazyAttribute(
        lambda trigger: TriggerKind.EXTERNAL_EVENT if trigger.event else TriggerKind.SUBSCRIBE
    )


def main_thread(conversation: Conversation) -> Thread:
    """The main thread of ``conversation``'s working version."""
    return conversation.versions.get(published_at__isnull=True).threads.get(is_main=True)


def conversation_with_steps(
    email_list: List,
    *steps: tuple[str, dict[str, Any]],
    name: str = "Flow",
    trigger: str = TriggerKind.SUBSCRIBE,
    event: Event | None = None,
) -> tuple[Conversation, list[Step]]:
    """An unpublished conversation of ``email_list`` entered by ``trigger``
    (of ``event``), its main thread holding ``steps`` (kind, settings) in order."""
    conversation = ConversationFactory.create(list=email_list, name=name)
    TriggerFactory(conversation=conversation, kind=trigger, event=event)
    thread = main_thread(conversation)
    return conversation, [add_step(thread, kind, **settings) for kind, settings in steps]


class EnrollmentFactory(factory.django.DjangoModelFactory[Enrollment]):
    """A new contact of the conversation's list inside it: at ``step`` (whose
    thread and version it takes) or, without one, at the start of ``thread``;
    active and due now, unless ``state`` says otherwise."""

    class Meta:
        model = Enrollment

    step = None
    thread = factory.Maybe(
        "step",
        yes_declaration=factory.SelfAttribute("step.thread"),
        no_declaration=factory.SubFactory(ThreadFactory),
    )
    version = factory.SelfAttribute("thread.version")
    conversation = factory.SelfAttribute("version.conversation")
    contact = factory.SubFactory(ContactFactory, list=factory.SelfAttribute("..conversation.list"))
    trigger_kind = TriggerKind.SUBSCRIBE
    state = EnrollmentState.ACTIVE
    due_at = factory.LazyAttribute(
        lambda enrollment: timezone.now() if enrollment.state == EnrollmentState.ACTIVE else None
    )
    finished_at = factory.LazyAttribute(
        lambda enrollment: timezone.now() if enrollment.state == EnrollmentState.FINISHED else None
    )


class StepRunFactory(factory.django.DjangoModelFactory[StepRun]):
    """A passed visit of ``step`` by an enrollment at that step."""

    class Meta:
        model = StepRun

    step = factory.SubFactory(StepFactory)
    enrollment = factory.SubFactory(EnrollmentFactory, step=factory.SelfAttribute("..step"))
    visit = factory.SelfAttribute("enrollment.visit")
    outcome = StepOutcome.PASSED


class DeliveryFactory(factory.django.DjangoModelFactory[Delivery]):
    """The pending email of a Message step's visit, to the enrolled contact."""

    class Meta:
        model = Delivery

    class Params:
        step_run = factory.SubFactory(StepRunFactory, step__kind=StepKind.MESSAGE)

    source_type = factory.LazyFunction(step_run_type)
    source_id = factory.SelfAttribute("step_run.pk")
    message = factory.LazyAttribute(
        lambda delivery: Message.objects.get(pk=delivery.step_run.step.settings["message"])
    )
    contact = factory.SelfAttribute("step_run.enrollment.contact")
    merge_context = factory.LazyAttribute(
        lambda delivery: {"trigger": {"kind": delivery.step_run.enrollment.trigger_kind}}
    )
    details = factory.LazyAttribute(
        lambda delivery: {"conversation_id": delivery.step_run.enrollment.conversation_id}
    )


class CouponPoolFactory(factory.django.DjangoModelFactory[CouponPool]):
    """A pool of unique codes, or with ``kind=CouponKind.STATIC`` one code for all."""

    class Meta:
        model = CouponPool

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")
    kind = CouponKind.UNIQUE
    static_code = factory.LazyAttribute(
        lambda pool: "STATIC10" if pool.kind == CouponKind.STATIC else ""
    )


class CouponFactory(factory.django.DjangoModelFactory[Coupon]):
    """A unique code not yet handed out, never expiring."""

    class Meta:
        model = Coupon

    pool = factory.SubFactory(CouponPoolFactory)
    code = factory.Sequence(lambda n: f"CODE-{n:05d}")


# --- Integrations ------------------------------------------------------------


class SegmentIntegrationFactory(factory.django.DjangoModelFactory[SegmentIntegration]):
    """An enabled integration sending to Segment's own endpoint, with its shards."""

    class Meta:
        model = SegmentIntegration
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Segment {n}")
    write_key = "wk_test_0123456789abcdefWXYZ"
    endpoint = DEFAULT_ENDPOINT
    enabled = True

    @factory.post_generation
    def shards(integration: SegmentIntegration, create: bool, extracted: Any, **_: Any) -> None:
        # Delivery leases shards: an integration without them never sends.
        if create:
            ensure_shards(integration)


class SegmentListSyncFactory(factory.django.DjangoModelFactory[SegmentListSync]):
    """A list synced to an integration without a userId field, its backfill
    not yet run."""

    class Meta:
        model = SegmentListSync

    integration = factory.SubFactory(SegmentIntegrationFactory)
    list = factory.SubFactory(ListFactory)


def contacts_entering(conversation: Conversation, count: int) -> None:
    """``count`` new contacts just entered (due now) into ``conversation``'s
    published version, written in two statements (as a big import enters them)."""
    version = conversation.versions.filter(published_at__isnull=False).get()
    main = version.threads.get(is_main=True)
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(list=conversation.list, email=f"p{n:05d}@example.com", subscribed_at=now)
        for n in range(count)
    )
    Enrollment.objects.bulk_create(
        Enrollment(
            conversation=conversation,
            version=version,
            contact=c,
            trigger_kind=TriggerKind.SUBSCRIBE,
            thread=main,
            due_at=now,
        )
        for c in contacts
    )
