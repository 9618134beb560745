"""Go To engagement criteria: opened, clicked, clicked a given link (or did
not) of an email of the conversation, optionally within the last N days,
next to Listrak's profile comparisons. The engagement is recorded for real:
emails sent through a real SMTP server, opened and clicked through their
tracked URLs."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.filters import (
    Criteria,
    Engagement,
    EngagementKind,
    FilterSet,
    JoinType,
    criteria_q,
    parse_criteria,
)
from conductor.models import Conversation, Enrollment, Step, StepKind, TriggerKind
from conductor.transfer import export_version, import_document
from conductor.versions import publish, version_problems, working_version
from contacts.models import Activity, ActivityKind, Contact
from contacts.services import fire_event, update_profile
from emails.models import Message, MessageLink
from tests.factories import (
    ContactFactory,
    EventFactory,
    ListFactory,
    MessageFactory,
    conversation_with_steps,
    main_thread,
)
from tests.tracking_helpers import (
    HTML,
    TEXT,
    html_of,
    links,
    path_of,
    publish_mailing,
    send_to,
)

pytestmark = pytest.mark.django_db

SALE_LINK = "https://shop.example/sale"
PERSONAL_LINK = "https://shop.example/p?who={{ profile.first_name }}"
ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def follow(client, email, kind: str, index: int = 0) -> None:
    """Follow the email's tracked URL of ``kind`` (o: the open pixel, c: a link)."""
    response = client.get(path_of(links(html_of(email), kind)[index]))
    assert response.status_code in (200, 302)


def age(contact: Contact, kind: str, days: int) -> None:
    """Make the contact's ``kind`` activity ``days`` old, as if it happened then."""
    then = timezone.now() - datetime.timedelta(days=days)
    assert Activity.objects.filter(contact=contact, kind=kind).update(occurred_at=then)


class Story:
    """Who got the "Sale" email from the "Welcome" conversation and what they did:

    - ada opened it and clicked its sale link, today;
    - bob opened it 40 days ago and clicked nothing;
    - cy clicked its personal link 10 days ago without opening it (images off);
    - dee got it and did nothing;
    - eve never got an email (she is on the list, in no conversation);
    - fay got it and did nothing, then got the same message from the "Other"
      conversation and opened and clicked that one.
    """

    def __init__(self, shop, smtp_server, client) -> None:
        self.list = shop
        self.sale = publish_mailing(shop)
        self.welcome = Conversation.objects.get(name="Welcome")
        emails = {}
        for name in ("ada", "bob", "cy", "dee", "fay"):
            emails[name] = send_to(shop, smtp_server, f"{name}@example.com", name.title())
        self.contacts = {name: contact for name, (contact, _) in emails.items()}
        follow(client, emails["ada"][1], "o")
        follow(client, emails["ada"][1], "c", 0)  # the sale link
        follow(client, emails["bob"][1], "o")
        age(self.contacts["bob"], ActivityKind.EMAIL_OPENED, 40)
        follow(client, emails["cy"][1], "c", 1)  # the personal link
        age(self.contacts["cy"], ActivityKind.EMAIL_CLICKED, 10)
        self.contacts["eve"] = ContactFactory.create(list=shop, email="eve@example.com")
        vip = EventFactory.create(list=shop, name="VIP")
        other, _ = conversation_with_steps(
            shop,
            (StepKind.MESSAGE, {"message": self.sale.pk}),
            (StepKind.TERMINATE, {}),
            name="Other",
            trigger=TriggerKind.EXTERNAL_EVENT,
            event=vip,
        )
        publish(other)
        fire_event(event=vip, contact=self.contacts["fay"])
        run_due()
        fay_emails = [m for m in smtp_server.messages if m["To"] == "fay@example.com"]
        assert len(fay_emails) == 2
        follow(client, fay_emails[1], "o")
        follow(client, fay_emails[1], "c", 0)

    def parse(self, data: dict[str, Any]) -> Criteria:
        return parse_criteria(self.list, data, conversation_id=self.welcome.pk)

    def matching(self, data: dict[str, Any]) -> set[str]:
        contacts = Contact.objects.filter(list=self.list).filter(criteria_q(self.parse(data)))
        return {email.split("@")[0] for email in contacts.values_list("email", flat=True)}

    def engagement(self, kind: str, **extra: Any) -> dict[str, Any]:
        return {"engagement": kind, "message": self.sale.pk, **extra}


@pytest.fixture
def story(shop, smtp_server, client) -> Story:
    return Story(shop, smtp_server, client)


EVERYONE = {"ada", "bob", "cy", "dee", "eve", "fay"}


# --- What each kind matches ------------------------------------------------------------


KIND_CASES = [
    ("Opened", {}, {"ada", "bob"}),
    ("Opened", {"withinDays": 30}, {"ada"}),
    ("Clicked", {}, {"ada", "cy"}),
    ("Clicked", {"withinDays": 7}, {"ada"}),
    ("ClickedLink", {"link": SALE_LINK}, {"ada"}),
    ("ClickedLink", {"link": PERSONAL_LINK}, {"cy"}),
    ("ClickedLink", {"link": PERSONAL_LINK, "withinDays": 7}, set()),
    ("ClickedLink", {"link": PERSONAL_LINK, "withinDays": 11}, {"cy"}),
]


def test_each_kind_matches_the_contacts_who_engaged_and_its_not_the_others(story):
    for kind, extra, expected in KIND_CASES:  # one story (real emails) for every case
        assert story.matching(story.engagement(kind, **extra)) == expected, (kind, extra)
        # The "Not" kind is the exact complement: it matches eve, who never got an email.
        not_kind = story.engagement(f"Not{kind}", **extra)
        assert story.matching(not_kind) == EVERYONE - expected, (f"Not{kind}", extra)


def test_only_this_conversations_emails_count(story):
    """fay opened and clicked the same message, sent by another conversation."""
    other = Conversation.objects.get(name="Other")
    opened = story.engagement("Opened")
    in_other = parse_criteria(story.list, opened, conversation_id=other.pk)
    matched = Contact.objects.filter(list=story.list).filter(criteria_q(in_other))
    assert [c.email for c in matched] == ["fay@example.com"]
    assert "fay" not in story.matching(opened)
    assert "fay" in story.matching(story.engagement("NotClicked"))


def test_a_browser_link_click_counts_as_clicked_but_not_as_a_given_link(shop, smtp_server, client):
    publish_mailing(shop)
    contact, email = send_to(shop, smtp_server, "gus@example.com", "Gus")
    follow(client, email, "v")  # "view in your browser"
    sale = Message.objects.get(name="Sale")
    welcome = Conversation.objects.get(name="Welcome")

    def matches(data: dict[str, Any]) -> bool:
        criteria = parse_criteria(shop, data, conversation_id=welcome.pk)
        return Contact.objects.filter(pk=contact.pk).filter(criteria_q(criteria)).exists()

    assert matches({"engagement": "Clicked", "message": sale.pk})
    assert not matches({"engagement": "ClickedLink", "message": sale.pk, "link": SALE_LINK})
    assert not matches({"engagement": "Opened", "message": sale.pk})


def test_within_days_counts_back_from_the_time_given(story):
    criteria = story.parse(story.engagement("Opened", withinDays=30))
    matched = Contact.objects.filter(
        criteria_q(criteria, now=timezone.now() - datetime.timedelta(days=20))
    )
    # Twenty days ago, bob's open (40 days ago) was within the last 30 days.
    assert {c.email for c in matched} == {"ada@example.com", "bob@example.com"}


def test_engagement_nests_in_and_or_groups_with_profile_comparisons(story):
    update_profile(contact=story.contacts["ada"], values={"Points": "12"})
    update_profile(contact=story.contacts["bob"], values={"Points": "12"})
    update_profile(contact=story.contacts["eve"], values={"Points": "3"})
    points_over_5 = {"segmentationField": "Points", "compareType": "GreaterThan",
                     "values": [{"value": "5"}]}  # fmt: skip
    # Points > 5 And (opened within 30 days Or clicked)
    assert story.matching(
        {
            "filters": [
                points_over_5,
                {
                    "joinType": "And",
                    "filters": [
                        story.engagement("Opened", withinDays=30),
                        {"joinType": "Or", **story.engagement("Clicked")},
                    ],
                },
            ]
        }
    ) == {"ada"}
    # opened AndNot clicked: the reminder audience
    assert story.matching(
        {
            "filters": [
                story.engagement("Opened"),
                {"joinType": "AndNot", **story.engagement("Clicked")},
            ]
        }
    ) == {"bob"}
    # (First Name is Dee Or NotOpened within 30 days) AndNot Points > 5
    assert story.matching(
        {
            "filters": [
                {"segmentationField": "First Name", "compareType": "Equals",
                 "values": [{"value": "Dee"}]},
                {"joinType": "Or", **story.engagement("NotOpened", withinDays=30)},
                {"joinType": "AndNot", **points_over_5},
            ]
        }
    ) == {"cy", "dee", "eve", "fay"}  # fmt: skip


def test_a_link_is_named_by_its_address_or_its_id_and_stored_as_its_address(story):
    sale_link = MessageLink.objects.get(message=story.sale, url=SALE_LINK)
    by_id = story.parse(story.engagement("ClickedLink", link=sale_link.pk))
    by_text_id = story.parse(story.engagement("ClickedLink", link=str(sale_link.pk)))
    by_address = story.parse(story.engagement("ClickedLink", link=f" {SALE_LINK} "))
    assert by_id == by_text_id == by_address
    assert by_id.to_settings() == {
        "engagement": "ClickedLink",
        "message": story.sale.pk,
        "link": SALE_LINK,
    }


def test_a_link_no_email_carried_yet_is_accepted_and_clicked_by_nobody(shop):
    conversation, _ = conversation_with_steps(shop)
    news = MessageFactory.create(
        list=shop, name="News", html_body='<a href="https://shop.example/new">New</a>'
    )
    ContactFactory.create(list=shop, email="ann@example.com")
    data = {"engagement": "ClickedLink", "message": news.pk, "link": "https://shop.example/new"}
    criteria = parse_criteria(shop, data, conversation_id=conversation.pk)
    assert not MessageLink.objects.exists()
    assert not Contact.objects.filter(criteria_q(criteria)).exists()
    negated = {"filters": [{**data, "engagement": "NotClickedLink"}]}
    criteria = parse_criteria(shop, negated, conversation_id=conversation.pk)
    assert [c.email for c in Contact.objects.filter(criteria_q(criteria))] == ["ann@example.com"]
    # As the second member of AndNot/OrNot the empty condition still joins exactly.
    either = {"filters": [{**data, "engagement": "NotClickedLink"},
                          {**data, "joinType": "AndNot"}]}  # fmt: skip
    criteria = parse_criteria(shop, either, conversation_id=conversation.pk)
    assert Contact.objects.filter(criteria_q(criteria)).count() == 1


# --- Parsing, settings and round trip ------------------------------------------------


def test_it_parses_into_a_typed_tree_and_round_trips_through_settings(story):
    sale_link = MessageLink.objects.get(message=story.sale, url=SALE_LINK)
    data = {
        "filters": [
            {"Engagement": "opened", "Message": str(story.sale.pk), "WithinDays": "30"},
            {"joinType": "andnot", "engagement": "CLICKEDLINK", "message": story.sale.pk,
             "link": SALE_LINK, "withinDays": None},
            {"joinType": "Or", "segmentationField": "VIP", "compareType": "Checked"},
        ]
    }  # fmt: skip
    criteria = story.parse(data)
    assert criteria.conversation_id == story.welcome.pk
    assert isinstance(criteria.root, FilterSet)
    assert criteria.root.first == Engagement(EngagementKind.OPENED, story.sale, within_days=30)
    assert criteria.root.rest[0] == (
        JoinType.AND_NOT,
        Engagement(EngagementKind.CLICKED_LINK, story.sale, link=SALE_LINK, link_id=sale_link.pk),
    )
    settings = json.loads(json.dumps(criteria.to_settings()))
    assert settings["filters"][:2] == [
        {"engagement": "Opened", "message": story.sale.pk, "withinDays": 30},
        {"joinType": "AndNot", "engagement": "ClickedLink", "message": story.sale.pk,
         "link": SALE_LINK},
    ]  # fmt: skip
    assert story.parse(settings) == criteria
    assert story.parse(settings).to_settings() == settings
    assert story.matching(settings) == story.matching(data)
    assert list(criteria.engagements()) == [criteria.root.first, criteria.root.rest[0][1]]


def test_parsing_reads_each_named_message_and_its_links_once(story, django_assert_num_queries):
    data = {
        "filters": [
            story.engagement("Opened"),
            {"joinType": "Or", **story.engagement("ClickedLink", link=SALE_LINK)},
            {"joinType": "Or", **story.engagement("NotClickedLink", link=PERSONAL_LINK)},
        ]
    }
    with django_assert_num_queries(3):  # the fields, the Sale, the Sale's links
        story.parse(data)


def test_the_compiled_criteria_run_as_one_query(story, django_assert_num_queries):
    criteria = story.parse(
        {"filters": [story.engagement("Opened"), {"joinType": "Or", **story.engagement("Clicked")}]}
    )
    with django_assert_num_queries(1):
        found = list(Contact.objects.filter(criteria_q(criteria)))
    assert {c.email.split("@")[0] for c in found} == {"ada", "bob", "cy"}


# --- Validation in words ------------------------------------------------------------------

KINDS = "Clicked, ClickedLink, NotClicked, NotClickedLink, NotOpened or Opened"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"engagement": "Read", "message": "SALE"},
         f"engagement: 'Read' is not an engagement; use {KINDS}."),
        ({"message": "SALE"}, f"engagement: required; use {KINDS}."),
        ({"engagement": "Opened"}, "message: required: the id of the message whose emails count."),
        ({"engagement": "Opened", "message": "Sale"},
         "message: must be the id of a message, not 'Sale'."),
        ({"engagement": "Opened", "message": True},
         "message: must be the id of a message, not True."),
        ({"engagement": "Opened", "message": 0}, "message: 0 is not a message of list 'Shop'."),
        ({"engagement": "Opened", "message": "ELSEWHERE"},
         "message: ELSEWHERE is not a message of list 'Shop'."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": 0},
         "withinDays: must be a whole number of days from 1 to 3650, not 0."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": -3},
         "withinDays: must be a whole number of days from 1 to 3650, not -3."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": 1.5},
         "withinDays: must be a whole number of days from 1 to 3650, not 1.5."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": "a week"},
         "withinDays: must be a whole number of days from 1 to 3650, not 'a week'."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": True},
         "withinDays: must be a whole number of days from 1 to 3650, not True."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": 3651},
         "withinDays: must be a whole number of days from 1 to 3650, not 3651."),
        ({"engagement": "Opened", "message": "SALE", "withinDays": 10**30},
         "withinDays: must be a whole number of days from 1 to 3650, "
         "not 1000000000000000000000000000000."),
        ({"engagement": "ClickedLink", "message": "SALE"},
         "link: ClickedLink needs the link: its address as written in message “Sale”, "
         "or its id."),
        ({"engagement": "NotClickedLink", "message": "SALE", "link": "https://shop.example/x"},
         "link: 'https://shop.example/x' is not a link of message “Sale” (its links: "
         "https://shop.example/sale, https://shop.example/p?who={{ profile.first_name }})."),
        ({"engagement": "ClickedLink", "message": "SALE", "link": "OTHER_LINK"},
         "link: OTHER_LINK is not a link of message “Sale” (its links: "
         "https://shop.example/sale, https://shop.example/p?who={{ profile.first_name }})."),
        ({"engagement": "Clicked", "message": "SALE", "link": SALE_LINK},
         "link: only ClickedLink and NotClickedLink take a link, not Clicked."),
        ({"engagement": "Opened", "message": "SALE", "compareType": "IsEmpty"},
         "filter: give an engagement condition or a field comparison, not both."),
        ({"engagement": "Opened", "message": "SALE", "filters": [{"segmentationField": "VIP",
          "compareType": "Checked"}]},
         "filter: give an engagement condition or nested filters, not both."),
        ({"filters": [{"segmentationField": "VIP", "compareType": "Checked"},
                      {"joinType": "Or", "engagement": "Opened", "message": "x"}]},
         "filters[1].message: must be the id of a message, not 'x'."),
    ],
)  # fmt: skip
def test_it_refuses_bad_engagement_conditions_in_words(shop, data, message):
    sale = MessageFactory.create(list=shop, name="Sale", html_body=HTML, text_body=TEXT)
    conversation, _ = conversation_with_steps(shop)
    elsewhere = MessageFactory.create(
        list=ListFactory.create(), html_body=f'<a href="{SALE_LINK}">x</a>'
    )
    other_link = MessageLink.objects.create(message=elsewhere, url=SALE_LINK, url_hash="x" * 64)
    ids = {"SALE": sale.pk, "ELSEWHERE": elsewhere.pk, "OTHER_LINK": other_link.pk}
    data = json.loads(json.dumps(data), object_hook=lambda d: {
        k: ids.get(v, v) if isinstance(v, str) else v for k, v in d.items()})  # fmt: skip
    message = message.replace("ELSEWHERE", str(elsewhere.pk)).replace(
        "OTHER_LINK", str(other_link.pk)
    )
    with pytest.raises(ValidationError) as raised:
        parse_criteria(shop, data, conversation_id=conversation.pk)
    assert raised.value.messages == [message]


def test_engagement_needs_a_conversation_to_count_emails_of(shop):
    sale = MessageFactory.create(list=shop, name="Sale")
    with pytest.raises(ValidationError) as raised:
        parse_criteria(shop, {"engagement": "Opened", "message": sale.pk})
    assert raised.value.messages == [
        "filter: an engagement condition counts the emails of a conversation; "
        "these criteria belong to none."
    ]


# --- The Go To step: admin form, problems, transfer ----------------------------------------


def go_to_version(shop, criteria: dict[str, Any] | None, *, sends: Message | None = None):
    """An unpublished conversation: [Message sends], Go To (criteria) → its Terminate."""
    steps: list[tuple[str, dict[str, Any]]] = []
    if sends is not None:
        steps.append((StepKind.MESSAGE, {"message": sends.pk}))
    steps += [(StepKind.GO_TO, {}), (StepKind.TERMINATE, {}), (StepKind.TERMINATE, {})]
    conversation, made = conversation_with_steps(shop, *steps, name="Nudge")
    go_to = next(s for s in made if s.kind == StepKind.GO_TO)
    Step.objects.filter(pk=go_to.pk).update(
        settings={"target": str(made[-1].key), "criteria": criteria}
    )
    return conversation


def test_publishing_names_the_step_and_each_problem_of_its_engagement_criteria(shop):
    sale = MessageFactory.create(list=shop, name="Sale")
    criteria = {"filters": [
        {"engagement": "Opened", "message": sale.pk, "withinDays": 0},
        {"joinType": "Or", "engagement": "ClickedLink", "message": sale.pk, "link": "x"},
    ]}  # fmt: skip
    conversation = go_to_version(shop, criteria, sends=sale)
    assert version_problems(working_version(conversation)) == [
        "Main step 2, Go To: filters[0].withinDays: must be a whole number of days from 1 "
        "to 3650, not 0.",
        "Main step 2, Go To: filters[1].link: 'x' is not a link of message “Sale” "
        "(its links: none).",
    ]


def test_publishing_refuses_engagement_with_a_message_the_conversation_never_sends(shop):
    sale = MessageFactory.create(list=shop, name="Sale")
    news = MessageFactory.create(list=shop, name="News")
    criteria = {"filters": [
        {"engagement": "Opened", "message": sale.pk},
        {"joinType": "Or", "engagement": "NotOpened", "message": news.pk},
    ]}  # fmt: skip
    conversation = go_to_version(shop, criteria, sends=sale)
    assert version_problems(working_version(conversation)) == [
        "Main step 2, Go To: its criteria count engagement with message “News”, which no "
        "step of this version sends (only this conversation's emails count)."
    ]


def test_the_admin_form_saves_engagement_criteria_in_their_stored_shape(admin_client, shop):
    sale = MessageFactory.create(
        list=shop, name="Sale", html_body=f'<a href="{SALE_LINK}">Sale</a>'
    )
    conversation = go_to_version(shop, None, sends=sale)
    main = main_thread(conversation)
    target = main.steps.order_by("position").last()
    url = reverse("admin:conductor_step_add") + f"?thread={main.pk}&kind={StepKind.GO_TO}"
    criteria = {"filters": [
        {"engagement": "notclickedlink", "message": str(sale.pk), "link": SALE_LINK,
         "withinDays": "7"},
        {"joinType": "AndNot", "segmentationField": "vip", "compareType": "Checked"},
    ]}  # fmt: skip
    response = admin_client.post(
        url, {"name": "", "target": str(target.key), "criteria": json.dumps(criteria)}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = main.steps.order_by("-position").first().settings["criteria"]
    vip = shop.profile_fields.get(name="VIP")
    assert saved == {"filters": [
        {"engagement": "NotClickedLink", "message": sale.pk, "link": SALE_LINK, "withinDays": 7},
        {"joinType": "AndNot", "segmentationFieldId": vip.pk, "compareType": "Checked",
         "values": []},
    ]}  # fmt: skip
    bad = {"engagement": "Opened", "message": sale.pk, "withinDays": 0}
    response = admin_client.post(
        url, {"name": "", "target": str(target.key), "criteria": json.dumps(bad)}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["criteria"] == [
        "withinDays: must be a whole number of days from 1 to 3650, not 0."
    ]


def test_a_conversation_file_names_the_message_and_keeps_the_link_address(shop):
    sale = MessageFactory.create(
        list=shop, name="Sale", html_body=f'<a href="{SALE_LINK}">Sale</a>'
    )
    criteria = {"engagement": "ClickedLink", "message": sale.pk, "link": SALE_LINK}
    conversation = go_to_version(shop, criteria, sends=sale)
    document = json.loads(json.dumps(export_version(working_version(conversation))))
    go_to = next(s for s in document["steps"] if s["kind"] == StepKind.GO_TO)
    assert go_to["settings"]["criteria"] == {**criteria, "message": "Sale"}
    other_list = ListFactory.create(name="Outlet")
    document["list"] = "Outlet"
    result = import_document(document, list_id=other_list.pk)
    copied = Message.objects.get(list=other_list, name="Sale")
    step = Step.objects.get(version__conversation=result.conversation, kind=StepKind.GO_TO)
    assert step.settings["criteria"] == {**criteria, "message": copied.pk}
    assert result.problems == []


# --- Through the engine --------------------------------------------------------------------


def nudge_flow(shop, criteria_of) -> None:
    """Sale, a day's wait, then a Go To on ``criteria_of(sale)``: those it
    matches get "Thanks", the others "Reminder"."""
    sale = MessageFactory.create(
        list=shop, name="Sale", subject="Sale for {{ profile.first_name }}",
        html_body=HTML, text_body=TEXT,
    )  # fmt: skip
    thanks = MessageFactory.create(list=shop, name="Thanks", subject="Thanks for looking")
    reminder = MessageFactory.create(list=shop, name="Reminder", subject="Did you miss our sale?")
    conversation, steps = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": sale.pk}),
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        (StepKind.GO_TO, {}),
        (StepKind.MESSAGE, {"message": reminder.pk}),
        (StepKind.TERMINATE, {}),
        (StepKind.MESSAGE, {"message": thanks.pk}),
        (StepKind.TERMINATE, {}),
        name="Nudge",
    )
    Step.objects.filter(pk=steps[2].pk).update(
        settings={"target": str(steps[5].key), "criteria": criteria_of(sale, conversation)}
    )
    publish(conversation)


def subjects(smtp_server, address: str) -> list[str]:
    return [m["Subject"] for m in smtp_server.messages if m["To"] == address]


def after_the_wait() -> None:
    Enrollment.objects.filter(step__kind=StepKind.WAIT).update(due_at=timezone.now())
    run_due()


def test_a_go_to_in_a_published_conversation_jumps_for_contacts_who_opened(
    shop, smtp_server, client
):
    nudge_flow(shop, lambda sale, _: {"engagement": "Opened", "message": sale.pk})
    _, ada_email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    send_to(shop, smtp_server, "bob@example.com", "Bob")
    follow(client, ada_email, "o")
    after_the_wait()
    assert subjects(smtp_server, "ada@example.com") == ["Sale for Ada", "Thanks for looking"]
    assert subjects(smtp_server, "bob@example.com") == ["Sale for Bob", "Did you miss our sale?"]


def test_a_go_to_jumps_only_for_a_click_on_its_link_within_its_days(shop, smtp_server, client):
    nudge_flow(
        shop,
        lambda sale, _: {
            "filters": [
                {"engagement": "ClickedLink", "message": sale.pk, "link": SALE_LINK,
                 "withinDays": 3},
                {"joinType": "AndNot", "segmentationField": "VIP", "compareType": "Checked"},
            ]
        },
    )  # fmt: skip
    _, ada_email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    _, bob_email = send_to(shop, smtp_server, "bob@example.com", "Bob")
    cy, cy_email = send_to(shop, smtp_server, "cy@example.com", "Cy")
    dee, dee_email = send_to(shop, smtp_server, "dee@example.com", "Dee")
    follow(client, ada_email, "c", 1)  # the other link
    follow(client, bob_email, "c", 0)  # the sale link
    follow(client, cy_email, "c", 0)
    update_profile(contact=cy, values={"VIP": "on"})
    follow(client, dee_email, "c", 0)
    age(dee, ActivityKind.EMAIL_CLICKED, 4)
    after_the_wait()
    thanked = {a for a in ("ada", "bob", "cy", "dee")
               if "Thanks for looking" in subjects(smtp_server, f"{a}@example.com")}  # fmt: skip
    assert thanked == {"bob"}
    assert subjects(smtp_server, "cy@example.com")[-1] == "Did you miss our sale?"


def test_a_go_to_whose_message_was_deleted_holds_its_contacts_saying_why(shop, smtp_server):
    nudge_flow(shop, lambda sale, _: {"engagement": "Opened", "message": sale.pk})
    news = MessageFactory.create(list=shop, name="News")
    go_to = Step.objects.get(kind=StepKind.GO_TO, version__published_at__isnull=False)
    Step.objects.filter(pk=go_to.pk).update(
        settings={**go_to.settings, "criteria": {"engagement": "Opened", "message": news.pk}}
    )
    news_id = news.pk
    news.delete()
    contact, _ = send_to(shop, smtp_server, "ada@example.com", "Ada")
    after_the_wait()
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.state == "Held"
    assert enrollment.held_reason == (
        "The Go To's criteria are no longer valid: "
        f"message: {news_id} is not a message of list 'Shop'."
    )


# --- PostgreSQL: one index probe per contact ------------------------------------------------

if ON_POSTGRES:

    def test_the_engagement_subquery_reads_the_activity_conversation_index(story):
        criteria = story.parse(
            {
                "filters": [
                    story.engagement("Opened", withinDays=30),
                    {"joinType": "AndNot", **story.engagement("ClickedLink", link=SALE_LINK)},
                ]
            }
        )
        batch = Contact.objects.filter(pk__in=[c.pk for c in story.contacts.values()])
        whole_list = Contact.objects.filter(list=story.list)
        with CaptureQueriesContext(connection) as queries:
            list(batch.filter(criteria_q(criteria)).values_list("pk"))
            whole_list.filter(criteria_q(criteria)).count()
        # As in production, each contact has far more activity than opens and
        # clicks of this message: then reading its own activity
        # (activity_contact_recent) costs more than the probe, whatever ties
        # the planner would break at random on a handful of rows.
        Activity.objects.bulk_create(
            Activity(
                contact_id=contact.pk,
                list_id=story.list.pk,
                email=contact.email,
                kind=ActivityKind.PROFILE_UPDATED,
                details={"changes": {}},
            )
            for contact in story.contacts.values()
            for _ in range(200)
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("ANALYZE contacts_activity")
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            # PostgreSQL has no statistics on JSON keys but these (migration
            # conductor.0012): without them it misjudges the subquery's rows.
            cursor.execute("SELECT count(*) FROM pg_statistic_ext WHERE stxname = %s",
                           ["activity_email_keys"])  # fmt: skip
            assert cursor.fetchone() == (1,)
            # The activity log is partitioned by month (contacts.partitions): the
            # plan reads each partition through its own copy of the index. The
            # empty months ahead hold nothing to read: any index will do there.
            cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM contacts_activity")
            holding_rows = {name for (name,) in cursor.fetchall()}
            for query in queries:
                cursor.execute(f"EXPLAIN {query['sql']}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                scans = [
                    index
                    for index, table in re.findall(
                        r"Scan(?: using (\w+))? on (contacts_activity\w*)", plan
                    )
                    if table in holding_rows
                ]
                # Both subqueries probe activity_conversation, not the contact's activity.
                assert len(scans) >= 2, plan
                assert all(index.startswith("activity_conversation") for index in scans), plan
                assert "(details -> 'message_id'::text) = " in plan, plan
