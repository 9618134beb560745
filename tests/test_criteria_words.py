"""A Go To's summary (on the diagram and in the step lists) says its
criteria in the builder's words, so a marketer reads where contacts go and
why without opening the step."""

from __future__ import annotations

import pytest

from conductor.filters.words import MAX_LENGTH, criteria_words
from conductor.models import StepKind
from conductor.steps.context import Names
from conductor.steps.unit import unit_of
from conductor.versions import working_version
from lists.models import DataType
from tests.factories import (
    MessageFactory,
    ProfileFieldFactory,
    conversation_with_steps,
)

pytestmark = pytest.mark.django_db


def names_of(conversation) -> Names:
    version = working_version(conversation)
    return Names.of(version, list(version.steps.all()))


def test_a_go_to_says_its_criteria_in_words(shop):
    welcome = MessageFactory.create(list=shop, name="Welcome")
    code = ProfileFieldFactory(list=shop, group=shop.field_groups.first(), name="Welcome Code")
    birthday = shop.profile_fields.get(name="Birthday")
    points = shop.profile_fields.get(name="Points")
    vip = shop.profile_fields.get(name="VIP")
    assert birthday.data_type == DataType.DATE
    criteria = {
        "filters": [
            {"segmentationFieldId": code.pk, "compareType": "IsNotEmpty", "values": []},
            {"joinType": "And", "engagement": "Clicked", "message": welcome.pk, "withinDays": 7},
            {
                "joinType": "Or",
                "filters": [
                    {
                        "segmentationFieldId": birthday.pk,
                        "compareType": "GreaterThan",
                        "values": [{"value": "2000-01-31"}],
                    },
                    {
                        "joinType": "AndNot",
                        "segmentationFieldId": points.pk,
                        "compareType": "Between",
                        "values": [{"value": "10"}, {"value": "20"}],
                    },
                ],
            },
            {"joinType": "And", "segmentationFieldId": vip.pk, "compareType": "Checked"},
        ]
    }
    conversation, (go_to, _) = conversation_with_steps(
        shop,
        (StepKind.GO_TO, {"target": "end", "criteria": criteria}),
        (StepKind.TERMINATE, {}),
    )

    names = names_of(conversation)
    whole = (
        "Welcome Code is not empty and clicked “Welcome” in the last 7 days or (Birthday is "
        "after “2000-01-31” and not Points is between 10 and 20) and VIP is checked"
    )
    assert len(whole) > MAX_LENGTH
    summary = unit_of(go_to).summary(go_to, names)
    assert summary == "to the end (leave) if " + whole[: MAX_LENGTH - 1].rstrip() + "…"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("conductor.filters.words.MAX_LENGTH", 1000)
        assert criteria_words(criteria, names) == whole


def test_short_criteria_are_whole_and_everyone_is_said(shop):
    first_name = shop.profile_fields.get(name="First Name")
    criteria = {
        "segmentationFieldId": first_name.pk,
        "compareType": "InCommaList",
        "values": [{"value": "Ann,Bob"}],
    }
    conversation, (filtered, everyone, _) = conversation_with_steps(
        shop,
        (StepKind.GO_TO, {"target": "end", "criteria": criteria}),
        (StepKind.GO_TO, {"target": "end"}),
        (StepKind.TERMINATE, {}),
    )
    names = names_of(conversation)
    assert unit_of(filtered).summary(filtered, names) == (
        "to the end (leave) if First Name is one of “Ann,Bob”"
    )
    assert unit_of(everyone).summary(everyone, names) == "to the end (leave) (everyone)"


def test_criteria_that_cannot_be_read_say_so_plainly(shop):
    conversation, _ = conversation_with_steps(shop, (StepKind.TERMINATE, {}))
    names = names_of(conversation)
    assert criteria_words({"compareType": "Nonsense"}, names) == "criteria match"
    assert criteria_words(["not", "a", "filter"], names) == "criteria match"
