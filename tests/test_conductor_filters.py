"""Go To criteria: Listrak's filter shape, validated with paths, and run as one query."""

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from conductor.filters import (
    CompareType,
    Condition,
    Criteria,
    FilterSet,
    JoinType,
    criteria_q,
    parse_criteria,
)
from contacts.models import Contact
from lists.models import DataType, List, ProfileField
from tests.factories import ContactFactory, ListFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db


def leaf(field: str, compare: str, *values: str, join: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"segmentationField": field, "compareType": compare}
    if values:
        data["values"] = [{"value": value} for value in values]
    if join:
        data["joinType"] = join
    return data


def people(email_list: List, **profiles: dict[str, object]) -> None:
    """Contacts named by keyword, with raw stored profile values by field name."""
    fields = {field.name: field for field in ProfileField.objects.filter(list=email_list)}
    for name, values in profiles.items():
        profile = {fields[field].key: value for field, value in values.items()}
        ContactFactory(list=email_list, email=f"{name}@example.com", profile=profile)


def matching(email_list: List, data: dict[str, Any]) -> set[str]:
    criteria = parse_criteria(email_list, data)
    contacts = Contact.objects.filter(list=email_list).filter(criteria_q(criteria))
    return {email.split("@")[0] for email in contacts.values_list("email", flat=True)}


def errors(email_list: List, data: object) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        parse_criteria(email_list, data)  # type: ignore[arg-type]  # malformed on purpose
    return raised.value.messages


@pytest.fixture
def named(shop):
    people(
        shop,
        ada={"First Name": "Ada"},
        grace={"First Name": "grace"},
        adam={"First Name": "ADAM"},
        blank={"First Name": ""},
        nobody={},
    )
    return shop


@pytest.fixture
def scored(shop):
    people(
        shop,
        nine={"Points": "9"},
        ten={"Points": "10"},
        big={"Points": "1200"},
        half={"Points": "0.5"},
        decimal={"Points": "12.5"},
        negative={"Points": "-3"},
        zero={"Points": "0"},
        none={},
    )
    return shop


@pytest.fixture
def dated(shop):
    people(
        shop,
        new_year={"Birthday": "2024-01-01"},
        leap={"Birthday": "2024-02-29"},
        old={"Birthday": "2023-12-31"},
        ancient={"Birthday": "0999-06-01"},
        none={},
    )
    return shop


@pytest.fixture
def favorites():
    """The profile configuration of the reference's examples."""
    email_list = ListFactory(name="Fans")
    group = ProfileFieldFactory(
        list=email_list, group__list=email_list, group__name="Favorites", name="Color"
    ).group
    ProfileFieldFactory(group=group, name="Number", data_type=DataType.NUMERIC)
    ProfileFieldFactory(group=group, name="Movie")
    people(
        email_list,
        green13={"Color": "Green", "Number": "13", "Movie": "Up"},
        green_adventures={"Color": "green", "Number": "7", "Movie": "The Adventures of Tintin"},
        green15={"Color": "Green", "Number": "15", "Movie": "Heat"},
        green_plain={"Color": "Green", "Number": "30", "Movie": "Heat"},
        red13={"Color": "Red", "Number": "13", "Movie": "Adventures in Babysitting"},
        red={"Color": "Red", "Number": "1"},
        gold={"Color": "Gold"},
        colorless={"Number": "13"},
    )
    return email_list


# --- Text --------------------------------------------------------------------


def test_text_equals_ignores_case_and_not_equals_includes_contacts_without_a_value(named):
    assert matching(named, leaf("First Name", "Equals", "ADA")) == {"ada"}
    assert matching(named, leaf("first name", "Equals", "Grace")) == {"grace"}
    assert matching(named, leaf("First Name", "NotEquals", "ada")) == {
        "grace",
        "adam",
        "blank",
        "nobody",
    }


def test_text_contains_ignores_case_and_not_contains_includes_contacts_without_a_value(named):
    assert matching(named, leaf("First Name", "Contains", "aD")) == {"ada", "adam"}
    assert matching(named, leaf("First Name", "NotContains", "AD")) == {"grace", "blank", "nobody"}


def test_in_comma_list_trims_items_and_ignores_case(named):
    data = leaf("First Name", "InCommaList", " ada ,  GRACE,linus, ")
    assert matching(named, data) == {"ada", "grace"}
    data = leaf("First Name", "NotInCommaList", "ada , grace")
    assert matching(named, data) == {"adam", "blank", "nobody"}


def test_is_empty_means_a_missing_key_an_empty_string_or_null(named):
    people(named, null={"First Name": None})
    assert matching(named, leaf("First Name", "IsEmpty")) == {"blank", "nobody", "null"}
    assert matching(named, leaf("First Name", "IsNotEmpty")) == {"ada", "grace", "adam"}


def test_the_references_empty_and_not_empty_spellings_are_accepted(named):
    assert matching(named, leaf("First Name", "Empty")) == {"blank", "nobody"}
    assert matching(named, leaf("First Name", "NotEmpty")) == {"ada", "grace", "adam"}


@pytest.mark.parametrize(
    ("needle", "found"),
    [
        ("%", {"percent"}),
        ("_", {"underscore"}),
        ("\\", {"backslash"}),
        ("'", {"apostrophe"}),
        ('"', {"quoted"}),
        ("0%", {"percent"}),
        ("a_b", {"underscore"}),
        ("x\\y", {"backslash"}),
        ("o'b", {"apostrophe"}),
    ],
)
def test_contains_takes_wildcards_quotes_and_backslashes_literally(shop, needle, found):
    people(
        shop,
        percent={"First Name": "100% cotton"},
        underscore={"First Name": "a_b"},
        lookalike={"First Name": "axb"},
        backslash={"First Name": "x\\y"},
        apostrophe={"First Name": "O'Brien"},
        quoted={"First Name": 'say "hi"'},
    )
    assert matching(shop, leaf("First Name", "Contains", needle)) == found


@pytest.mark.parametrize(
    ("value", "found"),
    [("a_b", {"underscore"}), ("100%", {"percent"}), ("x\\y", {"backslash"}), ("o'brien", {"o"})],
)
def test_equals_and_comma_lists_take_wildcards_literally(shop, value, found):
    people(
        shop,
        underscore={"First Name": "a_b"},
        lookalike={"First Name": "axb"},
        percent={"First Name": "100%"},
        more={"First Name": "1000"},
        backslash={"First Name": "x\\y"},
        o={"First Name": "O'Brien"},
    )
    assert matching(shop, leaf("First Name", "Equals", value)) == found
    assert matching(shop, leaf("First Name", "InCommaList", f"nothing,{value}")) == found


# --- Numeric -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("compare", "values", "found"),
    [
        ("GreaterThan", ["9"], {"ten", "big", "decimal"}),
        ("GreaterThanOrEqualTo", ["10"], {"ten", "big", "decimal"}),
        ("LessThan", ["10"], {"nine", "half", "negative", "zero"}),
        ("LessThanOrEqualTo", ["-3"], {"negative"}),
        ("LessThan", ["-2.5"], {"negative"}),
        ("GreaterThan", ["-3.01"], {"nine", "ten", "big", "half", "decimal", "negative", "zero"}),
        ("Equals", ["12.50"], {"decimal"}),
        ("Equals", ["0"], {"zero"}),
        ("NotEquals", ["10"], {"nine", "big", "half", "decimal", "negative", "zero", "none"}),
        ("Between", ["0.5", "10"], {"nine", "ten", "half"}),
        ("Between", ["10", "0.5"], {"nine", "ten", "half"}),
        ("Between", ["-5", "0"], {"negative", "zero"}),
        ("NotBetween", ["0.5", "10"], {"big", "decimal", "negative", "zero", "none"}),
        ("InCommaList", ["9, 1200 ,-3"], {"nine", "big", "negative"}),
        ("NotInCommaList", ["9,10"], {"big", "half", "decimal", "negative", "zero", "none"}),
        ("IsEmpty", [], {"none"}),
    ],
)
def test_numeric_comparisons_compare_numbers_not_text(scored, compare, values, found):
    assert matching(scored, leaf("Points", compare, *values)) == found


def test_a_stored_numeric_value_that_is_not_a_number_counts_as_no_value(scored):
    people(scored, corrupt={"Points": "lots"}, empty={"Points": ""})
    assert "corrupt" not in matching(scored, leaf("Points", "LessThan", "1"))
    assert "empty" not in matching(scored, leaf("Points", "LessThan", "1"))
    assert {"corrupt", "empty"} <= matching(scored, leaf("Points", "NotBetween", "-1", "1"))


# --- Dates and switches -------------------------------------------------------


@pytest.mark.parametrize(
    ("compare", "values", "found"),
    [
        ("Equals", ["02/29/2024"], {"leap"}),
        ("NotEquals", ["2024-02-29"], {"new_year", "old", "ancient", "none"}),
        ("GreaterThan", ["12/31/2023"], {"new_year", "leap"}),
        ("GreaterThanOrEqualTo", ["2023-12-31"], {"old", "new_year", "leap"}),
        ("LessThan", ["2024-1-1"], {"old", "ancient"}),
        ("LessThanOrEqualTo", ["1/1/2024"], {"old", "ancient", "new_year"}),
        ("Between", ["2024-02-29", "2023-12-31"], {"old", "new_year", "leap"}),
        ("NotBetween", ["2024-01-01", "2024-12-31"], {"old", "ancient", "none"}),
        ("InCommaList", ["2024-01-01, 06/01/0999"], {"new_year", "ancient"}),
    ],
)
def test_date_comparisons_compare_dates(dated, compare, values, found):
    assert matching(dated, leaf("Birthday", compare, *values)) == found


def test_checked_means_on_and_not_checked_means_off_or_no_value(shop):
    people(shop, on={"VIP": "on"}, off={"VIP": "off"}, none={})
    assert matching(shop, leaf("VIP", "Checked")) == {"on"}
    assert matching(shop, leaf("VIP", "NotChecked")) == {"off", "none"}


def test_radio_on_means_on_and_radio_off_means_off_or_no_value(shop):
    ProfileFieldFactory(list=shop, group__list=shop, name="Gift", data_type=DataType.RADIO_BUTTON)
    people(shop, on={"Gift": "on"}, off={"Gift": "off"}, none={})
    assert matching(shop, leaf("Gift", "RadioOn")) == {"on"}
    assert matching(shop, leaf("Gift", "RadioOff")) == {"off", "none"}


# --- Field ids that look like array indexes ------------------------------------


def test_digit_field_ids_are_read_as_object_keys_not_array_indexes(shop):
    group = ProfileField.objects.filter(list=shop).first().group
    fields = list(ProfileField.objects.filter(list=shop))
    while max(field.pk for field in fields) < 12:
        fields.append(ProfileFieldFactory(group=group))
    fields.append(ProfileFieldFactory(group=group))
    # Keys "1", "12", "21"... side by side: each value must come from its own key.
    profile = {field.key: f"value of {field.key}" for field in fields}
    ContactFactory(list=shop, email="all@example.com", profile=profile)
    ContactFactory(list=shop, email="none@example.com", profile={})
    text_fields = [field for field in fields if field.data_type == DataType.TEXT]
    assert any(field.pk >= 10 for field in text_fields)
    for field in text_fields:
        for value, found in ((f"VALUE OF {field.key}", {"all"}), (f"value of {field.key}0", set())):
            data = {"segmentationFieldId": field.pk, "compareType": "Equals", "values": []}
            data["values"] = [{"value": value}]
            assert matching(shop, data) == found, (field.pk, value)


# --- Sets, joins and nesting ------------------------------------------------------


def test_the_references_examples_select_what_they_describe(favorites):
    color = {"segmentationFieldGroup": "Favorites", "segmentationField": "Color"}
    green = {**color, "compareType": "Equals", "values": [{"value": "Green"}]}
    assert matching(favorites, green) == {"green13", "green_adventures", "green15", "green_plain"}

    between = {**leaf("Number", "Between", "10", "20", join="And")}
    assert matching(favorites, {"filters": [green, between]}) == {"green13", "green15"}

    red_or_13 = {
        "filters": [leaf("Color", "Equals", "Red"), leaf("Number", "Equals", "13", join="Or")]
    }
    assert matching(favorites, red_or_13) == {"green13", "red13", "red", "colorless"}

    thirteen_or_adventures = {
        "joinType": "And",
        "filters": [
            leaf("Number", "Equals", "13"),
            leaf("Movie", "Contains", "adventures", join="Or"),
        ],
    }
    nested = {"filters": [green, thirteen_or_adventures]}
    assert matching(favorites, nested) == {"green13", "green_adventures"}

    in_list = {"filters": [leaf("Color", "InCommaList", "Black,White,Gold")]}
    assert matching(favorites, in_list) == {"gold"}

    no_color = {"filters": [{**color, "compareType": "Empty"}]}
    assert matching(favorites, no_color) == {"colorless"}


@pytest.mark.parametrize(
    ("join", "found"),
    [
        ("And", {"green13", "green15"}),
        ("AndNot", {"green_adventures", "green_plain"}),
        ("Or", {"green13", "green_adventures", "green15", "green_plain", "red13", "colorless"}),
        ("OrNot", {"green13", "green_adventures", "green15", "green_plain", "red", "gold"}),
    ],
)
def test_each_join_type_joins_to_the_filter_before(favorites, join, found):
    # "Number between 10 and 20": gold and red have no Number in that range or none at all.
    data = {
        "filters": [
            leaf("Color", "Equals", "green"),
            leaf("Number", "Between", "10", "20", join=join),
        ]
    }
    assert matching(favorites, data) == found


def test_a_negated_join_complements_a_nested_set_exactly(favorites):
    everyone = {email.split("@")[0] for email in Contact.objects.values_list("email", flat=True)}
    inner = {"filters": [leaf("Number", "GreaterThan", "10"), leaf("Movie", "IsEmpty", join="Or")]}
    chosen = matching(favorites, inner)
    all_but = {"filters": [leaf("Color", "IsNotEmpty"), {**inner, "joinType": "AndNot"}]}
    assert matching(favorites, all_but) == everyone - chosen - {"colorless"}


def test_a_set_is_read_left_to_right(favorites):
    # (Red Or Gold) And Number = 13, not Red Or (Gold And 13).
    data = {
        "filters": [
            leaf("Color", "Equals", "Red"),
            leaf("Color", "Equals", "Gold", join="Or"),
            leaf("Number", "Equals", "13", join="And"),
        ]
    }
    assert matching(favorites, data) == {"red13"}


def test_a_first_filter_may_carry_a_join_type_that_is_ignored(favorites):
    data = {"filters": [leaf("Color", "Equals", "Red", join="Or")]}
    assert matching(favorites, data) == {"red13", "red"}


def test_the_compiled_criteria_run_as_one_query(favorites, django_assert_num_queries):
    data = {
        "filters": [
            leaf("Color", "NotInCommaList", "Blue,Gold"),
            {
                "joinType": "AndNot",
                "filters": [
                    leaf("Number", "Between", "10", "20"),
                    leaf("Movie", "Contains", "heat", join="OrNot"),
                ],
            },
            leaf("Number", "IsNotEmpty", join="Or"),
        ]
    }
    criteria = parse_criteria(favorites, data)
    with django_assert_num_queries(1):
        found = list(Contact.objects.filter(list=favorites).filter(criteria_q(criteria)))
    assert {c.email.split("@")[0] for c in found} == {
        "green13",
        "green_adventures",
        "green15",
        "green_plain",
        "red13",
        "red",
        "colorless",
    }


# --- Parsing and settings ------------------------------------------------------------


def test_it_parses_into_a_typed_tree_with_canonical_values(shop):
    points = ProfileField.objects.get(list=shop, name="Points")
    birthday = ProfileField.objects.get(list=shop, name="Birthday")
    data = {
        "filters": [
            {"segmentationFieldId": points.pk, "compareType": "between", "values": [
                {"value": "20.50"}, {"value": "+3"}]},
            {"segmentationField": "BIRTHDAY", "compareType": "InCommaList", "joinType": "ornot",
             "values": [{"value": "1/2/2024, 2024-03-04"}]},
        ]
    }  # fmt: skip
    criteria = parse_criteria(shop, data)
    assert criteria == Criteria(
        list_id=shop.pk,
        root=FilterSet(
            first=Condition(points, CompareType.BETWEEN, ("3", "20.5")),
            rest=(
                (
                    JoinType.OR_NOT,
                    Condition(birthday, CompareType.IN_COMMA_LIST, ("2024-01-02", "2024-03-04")),
                ),
            ),
        ),
    )


def test_settings_store_field_ids_and_round_trip_through_json(favorites):
    data = {
        "filters": [
            {**leaf("Color", "Equals", " Green "), "segmentationFieldGroup": "favorites"},
            {
                "joinType": "AndNot",
                "filters": [
                    leaf("Number", "InCommaList", "13, 14.50"),
                    leaf("Movie", "Empty", join="Or"),
                ],
            },
        ]
    }
    criteria = parse_criteria(favorites, data)
    settings = json.loads(json.dumps(criteria.to_settings()))
    number = ProfileField.objects.get(list=favorites, name="Number")
    assert settings["filters"][1]["filters"][0] == {
        "segmentationFieldId": number.pk,
        "compareType": "InCommaList",
        "values": [{"value": "13,14.5"}],
    }
    assert settings["filters"][1]["filters"][1]["compareType"] == "IsEmpty"
    assert "segmentationField" not in json.dumps(settings).replace("segmentationFieldId", "")
    assert parse_criteria(favorites, settings) == criteria
    assert matching(favorites, settings) == matching(favorites, data)


def test_a_field_is_named_by_id_or_by_group_and_name_in_any_case(favorites):
    number = ProfileField.objects.get(list=favorites, name="Number")
    by_id = {"segmentationFieldId": number.pk, "compareType": "Equals", "values": [{"value": "13"}]}
    by_text_id = {**by_id, "segmentationFieldId": str(number.pk)}
    by_name = {**by_id, "segmentationFieldGroup": "FAVORITES", "segmentationField": "number"}
    by_name.pop("segmentationFieldId")
    both = {**by_id, "segmentationField": "Number"}
    results = [matching(favorites, data) for data in (by_id, by_text_id, by_name, both)]
    assert results == [{"green13", "red13", "colorless"}] * 4


def test_keys_and_names_ignore_case_and_null_members_count_as_absent(favorites):
    data = {
        "Filters": [
            {"SegmentationField": "Color", "CompareType": "EQUALS", "Values": [{"Value": "red"}]},
            {"joinType": "or", "segmentationField": "Movie", "compareType": "isempty",
             "values": None, "filters": None},
        ],
        "compareType": None,
    }  # fmt: skip
    assert matching(favorites, data) == {"red13", "red", "gold", "colorless"}


def test_parsing_reads_the_fields_once_and_the_groups_only_when_named(
    favorites, django_assert_num_queries
):
    data = {"filters": [leaf("Color", "IsEmpty"), leaf("Number", "IsEmpty", join="Or")]}
    with django_assert_num_queries(1):
        parse_criteria(favorites, data)
    with django_assert_num_queries(2):
        parse_criteria(
            favorites, {**leaf("Color", "IsEmpty"), "segmentationFieldGroup": "Favorites"}
        )


# --- Validation errors ----------------------------------------------------------------


def _deep(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = leaf("First Name", "IsEmpty")
    for _ in range(depth):
        data = {"filters": [data]}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "filter: must be an object."),
        ({}, "filter: give a field comparison (segmentationFieldGroup, segmentationField, "
             "compareType, values) or nested filters."),
        ({**leaf("First Name", "IsEmpty"), "filters": [leaf("VIP", "Checked")]},
         "filter: give a field comparison or nested filters, not both."),
        ({"filters": []}, "filters: must be a list of one or more filters."),
        ({"filters": leaf("VIP", "Checked")}, "filters: must be a list of one or more filters."),
        ({"filters": ["VIP"]}, "filters[0]: must be an object."),
        ({**leaf("VIP", "Checked"), "segmentation": "x"}, "filter: unknown key 'segmentation'."),
        ({"compareType": "IsEmpty"},
         "filter: name the profile field: segmentationFieldGroup and segmentationField, "
         "or segmentationFieldId."),
        ({"segmentationField": " ", "compareType": "IsEmpty"},
         "segmentationField: name the profile field: segmentationFieldGroup and "
         "segmentationField, or segmentationFieldId."),
        (leaf("Shoe", "IsEmpty"),
         "segmentationField: Unknown profile field 'Shoe' on list 'Shop'."),
        ({"segmentationFieldId": 0, "compareType": "IsEmpty"},
         "segmentationFieldId: Unknown profile field '0' on list 'Shop'."),
        ({"segmentationFieldId": True, "compareType": "IsEmpty"},
         "segmentationFieldId: must be a whole number."),
        ({"segmentationFieldId": "1.5", "compareType": "IsEmpty"},
         "segmentationFieldId: must be a whole number."),
        ({"segmentationField": "VIP"}, "compareType: required."),
        (leaf("VIP", "Like"),
         "compareType: 'Like' is not a compareType; use Between, Checked, Contains, Equals, "
         "GreaterThan, GreaterThanOrEqualTo, InCommaList, IsEmpty, IsNotEmpty, LessThan, "
         "LessThanOrEqualTo, NotBetween, NotChecked, NotContains, NotEquals, NotInCommaList, "
         "RadioOff or RadioOn."),
        (leaf("First Name", "Checked"),
         "compareType: Checked does not apply to the Text field 'First Name'; "
         "it applies to CheckBox fields."),
        (leaf("VIP", "RadioOn"),
         "compareType: RadioOn does not apply to the CheckBox field 'VIP'; "
         "it applies to RadioButton fields."),
        (leaf("First Name", "GreaterThan", "a"),
         "compareType: GreaterThan does not apply to the Text field 'First Name'; "
         "it applies to Date or Numeric fields."),
        (leaf("Points", "Contains", "1"),
         "compareType: Contains does not apply to the Numeric field 'Points'; "
         "it applies to CommentArea, ContentBlock or Text fields."),
        (leaf("VIP", "Equals", "on"),
         "compareType: Equals does not apply to the CheckBox field 'VIP'; "
         "it applies to CommentArea, ContentBlock, Date, Numeric or Text fields."),
        (leaf("Points", "Between", "1"), "values: Between needs 2 values, not 1."),
        (leaf("Points", "Equals"), "values: Equals needs 1 value, not 0."),
        (leaf("Points", "Equals", "1", "2"), "values: Equals needs 1 value, not 2."),
        (leaf("VIP", "Checked", "on"), "values: Checked takes no values, not 1."),
        ({**leaf("Points", "Equals"), "values": "1"},
         'values: must be a list of objects like {"value": "10"}.'),
        ({**leaf("Points", "Equals"), "values": ["1"]},
         'values[0]: must be an object like {"value": "10"}.'),
        ({**leaf("Points", "Equals"), "values": [{"value": True}]},
         'values[0]: must be an object like {"value": "10"}.'),
        ({**leaf("Points", "Equals"), "values": [{"value": "1", "extra": 2}]},
         'values[0]: must be an object like {"value": "10"}.'),
        (leaf("Points", "Equals", "ten"),
         "values[0]: Profile field 'Points': 'ten' is not a number."),
        (leaf("Points", "Equals", "1.005"),
         "values[0]: Profile field 'Points': '1.005' has more than 2 decimal places."),
        (leaf("Birthday", "Between", "2024-01-01", "2024-13-01"),
         "values[1]: Profile field 'Birthday': '2024-13-01' is not a date; "
         "use MM/DD/YYYY or YYYY-MM-DD."),
        (leaf("Points", "InCommaList", "1, x"),
         "values[0]: Profile field 'Points': 'x' is not a number."),
        (leaf("First Name", "Equals", " "),
         "values[0]: Equals needs a value; use IsEmpty for no value."),
        (leaf("First Name", "InCommaList", " , "),
         "values[0]: InCommaList needs at least one item in its list; use IsEmpty for no value."),
        (leaf("First Name", "Contains", "x" * 51),
         "values[0]: Profile field 'First Name' accepts at most 50 characters; got 51."),
        ({"filters": [leaf("VIP", "Checked"), leaf("VIP", "Checked")]},
         "filters[1].joinType: required on the second and later filters; "
         "use And, AndNot, Or or OrNot."),
        ({"filters": [leaf("VIP", "Checked"), leaf("VIP", "Checked", join="Xor")]},
         "filters[1].joinType: 'Xor' is not a joinType; use And, AndNot, Or or OrNot."),
        ({"filters": [leaf("VIP", "Checked", join="AndNot")]},
         "filters[0].joinType: the first filter of a set joins nothing, so AndNot would be "
         "ignored; put it after another filter, or use the opposite compareType."),
        ({**leaf("VIP", "Checked"), "joinType": "OrNot"},
         "joinType: the first filter of a set joins nothing, so OrNot would be ignored; "
         "put it after another filter, or use the opposite compareType."),
        ({"filters": [leaf("VIP", "Checked"), {"joinType": "Or", "filters": [
            leaf("VIP", "Checked"), leaf("Points", "Between", "1", join="And")]}]},
         "filters[1].filters[1].values: Between needs 2 values, not 1."),
        (_deep(11), "filters[0].filters[0].filters[0].filters[0].filters[0].filters[0]."
                    "filters[0].filters[0].filters[0].filters[0].filters: "
                    "filters are nested more than 10 levels deep."),
        ({"filters": [leaf("VIP", "Checked")] + [leaf("VIP", "Checked", join="Or")] * 200},
         "filter: has 201 comparisons; at most 200."),
    ],
)  # fmt: skip
def test_it_refuses_bad_criteria_naming_the_path(shop, data, message):
    assert errors(shop, data) == [message]


def test_it_names_the_group_when_it_does_not_match_the_field(shop):
    group = ProfileField.objects.get(list=shop, name="VIP").group.name
    data = {**leaf("VIP", "Checked"), "segmentationFieldGroup": "Favorites"}
    assert errors(shop, data) == [
        f"segmentationFieldGroup: the profile field 'VIP' is in the group {group!r}, "
        "not 'Favorites'."
    ]


def test_it_refuses_an_id_and_a_name_that_disagree(shop):
    vip = ProfileField.objects.get(list=shop, name="VIP")
    data = {"segmentationFieldId": vip.pk, "segmentationField": "Points", "compareType": "Checked"}
    assert errors(shop, data) == [
        f"segmentationField: 'Points' is not the name of field {vip.pk} ('VIP')."
    ]


def test_it_refuses_a_field_of_another_list(shop):
    other = ProfileFieldFactory(name="Elsewhere")
    data = {"segmentationFieldId": other.pk, "compareType": "IsEmpty"}
    assert errors(shop, data) == [
        f"segmentationFieldId: Unknown profile field '{other.pk}' on list 'Shop'."
    ]


def test_it_names_every_problem_at_once(shop):
    data = {
        "filters": [
            leaf("Points", "Between", "1"),
            leaf("Shoe", "Equals", "9", join="And"),
            {"filters": [leaf("Birthday", "LessThan", "soon")]},
            leaf("VIP", "Checked", join="Nand"),
        ]
    }
    assert errors(shop, data) == [
        "filters[0].values: Between needs 2 values, not 1.",
        "filters[1].segmentationField: Unknown profile field 'Shoe' on list 'Shop'.",
        "filters[2].joinType: required on the second and later filters; "
        "use And, AndNot, Or or OrNot.",
        "filters[2].filters[0].values[0]: Profile field 'Birthday': 'soon' is not a date; "
        "use MM/DD/YYYY or YYYY-MM-DD.",
        "filters[3].joinType: 'Nand' is not a joinType; use And, AndNot, Or or OrNot.",
    ]
