"""Conversations exported to a portable JSON file and imported into another
list: ids become names and back, the round trip is exact, and a file that
does not fit the target list is refused whole, naming each problem's place."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conductor.filters import parse_criteria
from conductor.models import (
    ChildEvent,
    Conversation,
    CouponKind,
    CouponPool,
    Step,
    StepKind,
    Thread,
    Trigger,
)
from conductor.versions import publish, version_problems, working_version
from conductor.waits import Anniversary, AnniversaryMode, FixedDate, ProfileDate
from emails.models import Message
from lists.models import DataType, Event, List, ProfileField
from tests.factories import (
    ConversationFactory,
    CouponPoolFactory,
    EventFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    ProfileFieldGroupFactory,
    ThreadFactory,
    TriggerFactory,
    add_step,
    main_thread,
)

pytestmark = pytest.mark.django_db

EXTRA_FIELDS = {"Coupon": DataType.TEXT, "Last Visit": DataType.DATE, "Group": DataType.NUMERIC}
SHOP_FIELDS = {
    "First Name": DataType.TEXT,
    "Birthday": DataType.DATE,
    "Points": DataType.NUMERIC,
    "VIP": DataType.CHECK_BOX,
}
EVENTS = ("Order placed", "Cart abandoned")


def furnish(email_list: List, fields: Mapping[str, str]) -> List:
    """Give ``email_list`` the profile fields ``fields`` and the events EVENTS."""
    group = ProfileFieldGroupFactory(list=email_list)
    for name, data_type in fields.items():
        ProfileFieldFactory(group=group, name=name, data_type=data_type)
    for name in EVENTS:
        EventFactory(list=email_list, name=name)
    return email_list


def outlet(*, fields: dict[str, str] | None = None) -> List:
    """A second list (another environment's) with the same names as the shop."""
    return furnish(ListFactory.create(name="Outlet"), fields or {**SHOP_FIELDS, **EXTRA_FIELDS})


def field(email_list: List, name: str) -> int:
    return ProfileField.objects.get(list=email_list, name=name).pk


@pytest.fixture
def conversation(shop) -> Conversation:
    """Every step kind and every action kind, a child thread, both trigger
    sorts, a message variant, Go To criteria, and nothing left to fix."""
    furnish(shop, EXTRA_FIELDS)
    order = Event.objects.get(list=shop, name="Order placed")
    cart = Event.objects.get(list=shop, name="Cart abandoned")
    welcome = MessageFactory.create(
        list=shop, name="Welcome", subject="Hi {{ profile.first_name }}", html_body="<p>Hi</p>",
        text_body="Hi", from_name="Shop", from_email="hello@shop.example",
    )  # fmt: skip
    thanks = MessageFactory.create(list=shop, name="Thanks", subject="Thanks", text_body="Ta")
    unique = CouponPoolFactory.create(
        list=shop, name="Birthday codes", expiry_cutoff=dt.date(2030, 1, 31)
    )
    static = CouponPoolFactory.create(
        list=shop, name="Summer", kind=CouponKind.STATIC, static_code="SUMMER10"
    )
    conversation = ConversationFactory.create(list=shop, name="Birthday")
    by_event = TriggerFactory.create(conversation=conversation, event=order)
    TriggerFactory(conversation=conversation)
    main = main_thread(conversation)
    first = add_step(
        main, StepKind.MESSAGE, "Hello", message=welcome.pk,
        variants=[{"trigger": by_event.pk, "message": thanks.pk}],
    )  # fmt: skip
    add_step(main, StepKind.ACTION, action="SetCoupon", pool=unique.pk, field=field(shop, "Coupon"))
    add_step(main, StepKind.ACTION, action="SetCoupon", pool=static.pk, field=field(shop, "Coupon"))
    add_step(
        main, StepKind.ACTION, action="SetValue", field=field(shop, "First Name"), value="Friend"
    )
    add_step(
        main, StepKind.ACTION, action="SetDate", field=field(shop, "Last Visit"), offset_days=-2
    )
    add_step(
        main, StepKind.ACTION, action="DaysBetween", field=field(shop, "Points"),
        other_field=field(shop, "Birthday"), unit="weeks",
    )  # fmt: skip
    add_step(main, StepKind.ACTION, action="SplitTest", field=field(shop, "Group"), weights=[3, 1])
    add_step(main, StepKind.ACTION, action="FireEvent", event=cart.pk)
    before = ProfileDate(field_id=field(shop, "Birthday"), offset_days=-3, time=dt.time(9))
    add_step(main, StepKind.WAIT, **before.to_settings())
    waiting = add_step(main, StepKind.WAIT, "Two days", kind="duration", days=2)
    birthday = Anniversary(
        field_id=field(shop, "Last Visit"), mode=AnniversaryMode.NTH_WEEKDAY, nth=2, weekday=1,
        next_year_if_passed=True, offset_days=1, time=dt.time(8, 30),
    )  # fmt: skip
    add_step(main, StepKind.WAIT, **birthday.to_settings())
    criteria = {
        "filters": [
            {"segmentationFieldId": field(shop, "Points"), "compareType": "GreaterThan",
             "values": [{"value": "10"}]},
            {"joinType": "Or", "filters": [
                {"segmentationFieldId": field(shop, "VIP"), "compareType": "Checked"},
                {"joinType": "AndNot", "segmentationFieldId": field(shop, "Birthday"),
                 "compareType": "IsEmpty"},
            ]},
        ]
    }  # fmt: skip
    criteria = parse_criteria(shop, criteria).to_settings()
    add_step(main, StepKind.GO_TO, "Loyal?", target=str(waiting.key), criteria=criteria)
    add_step(main, StepKind.TERMINATE)
    child = ThreadFactory.create(
        parent_step=waiting, name="Opened", child_event=ChildEvent.CLICKED_LINK,
        link_url="https://shop.example/sale",
    )  # fmt: skip
    add_step(child, StepKind.MESSAGE, message=thanks.pk)
    add_step(
        child, StepKind.WAIT, **FixedDate(date=dt.date(2031, 2, 3), time=dt.time(7)).to_settings()
    )
    add_step(child, StepKind.GO_TO, target=str(first.key), criteria=None)
    assert version_problems(working_version(conversation)) == []
    return conversation


def export(conversation: Conversation, *args: str) -> str:
    out = StringIO()
    call_command("export_conversation", str(conversation.pk), *args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "conversation.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def import_file(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_conversation", str(path), *args, stdout=out)
    return out.getvalue()


def import_json(path: Path, *args: str) -> dict[str, Any]:
    return json.loads(import_file(path, "--json", *args))


def counts() -> dict[str, int]:
    models = (Conversation, Trigger, Thread, Step, Message, CouponPool)
    return {model.__name__: model.objects.count() for model in models}


def test_the_file_names_the_lists_objects_instead_of_ids(conversation, shop):
    document = json.loads(export(conversation))
    assert document["format"] == 1 and document["list"] == "Shop"
    assert document["conversation"] == {"name": "Birthday", "status": "Unpublished"}
    assert document["triggers"] == [
        {"kind": "ExternalEvent", "event": "Order placed"},
        {"kind": "Subscribe", "event": None},
    ]
    steps = document["steps"]
    assert steps[0]["settings"] == {
        "message": "Welcome",
        "variants": [{"trigger": {"kind": "ExternalEvent", "event": "Order placed"},
                      "message": "Thanks"}],
    }  # fmt: skip
    assert steps[1]["settings"] == {
        "action": "SetCoupon",
        "pool": "Birthday codes",
        "field": "Coupon",
    }
    assert steps[5]["settings"]["other_field"] == "Birthday"
    assert steps[7]["settings"] == {"action": "FireEvent", "event": "Cart abandoned"}
    assert steps[8]["settings"]["field_id"] == "Birthday"
    criteria = steps[11]["settings"]["criteria"]
    assert criteria["filters"][0]["segmentationField"] == "Points"
    assert criteria["filters"][1]["filters"][1]["segmentationField"] == "Birthday"
    assert "segmentationFieldId" not in json.dumps(document)
    assert [t["parent_step"] for t in document["threads"]] == [None, steps[9]["key"]]
    assert [s["thread"] for s in steps] == [0] * 13 + [1] * 3
    assert {f["name"]: f["data_type"] for f in document["profile_fields"]} == {
        **SHOP_FIELDS,
        **EXTRA_FIELDS,
    }
    assert [m["name"] for m in document["messages"]] == ["Thanks", "Welcome"]
    assert document["messages"][1]["from_email"] == "hello@shop.example"
    assert document["coupon_pools"] == [
        {"name": "Birthday codes", "kind": "Unique", "static_code": "",
         "expiry_cutoff": "2030-01-31"},
        {"name": "Summer", "kind": "Static", "static_code": "SUMMER10", "expiry_cutoff": None},
    ]  # fmt: skip


def test_two_exports_are_byte_identical_with_sorted_keys(conversation, tmp_path):
    first, second = export(conversation), export(conversation, "--json")
    assert first == second
    assert (
        first == json.dumps(json.loads(first), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )
    export(conversation, "--output", str(tmp_path / "out.json"))
    assert (tmp_path / "out.json").read_text() == first


def test_the_round_trip_into_another_list_is_exact(conversation, tmp_path):
    other = outlet()
    original = export(conversation)
    result = import_json(write(tmp_path, original), "--list", str(other.pk))
    assert result["problems"] == []
    imported = Conversation.objects.get(pk=result["conversation_id"])
    assert imported.list == other and imported.status == "Unpublished"
    again = json.loads(export(imported))
    assert again == {**json.loads(original), "list": "Outlet"}
    # The new steps point at the other list's objects, not the shop's.
    steps = Step.objects.filter(version=working_version(imported))
    set_value = next(s for s in steps if s.settings.get("action") == "SetValue")
    assert set_value.settings["field"] == field(other, "First Name")
    message = steps.get(name="Hello").settings
    assert Message.objects.get(pk=message["message"]).list == other
    assert Trigger.objects.get(pk=message["variants"][0]["trigger"]).conversation == imported
    assert CouponPool.objects.filter(list=other).count() == 2
    assert not CouponPool.objects.get(list=other, name="Birthday codes").coupons.exists()


def test_import_uses_the_list_named_in_the_file(conversation, tmp_path):
    other = outlet()
    document = json.loads(export(conversation)) | {"list": "Outlet"}
    output = import_file(write(tmp_path, document))
    imported = Conversation.objects.exclude(pk=conversation.pk).get()
    assert imported.list == other
    assert f"Created conversation {imported.pk}" in output


def test_an_existing_message_or_pool_of_the_same_name_is_reused_and_said_so(conversation, tmp_path):
    other = outlet()
    welcome = MessageFactory(list=other, name="Welcome", subject="Old", text_body="Old")
    summer = CouponPoolFactory(
        list=other, name="summer", kind=CouponKind.STATIC, static_code="SUMMER10"
    )
    output = import_file(write(tmp_path, export(conversation)), "--list", str(other.pk))
    assert f"Reused message 'Welcome' (id {welcome.pk})" in output
    assert "its contents differ from the file's" in output
    assert f"Reused coupon pool 'summer' (id {summer.pk}) already on list 'Outlet'." in output
    assert Message.objects.filter(list=other).count() == 2  # Welcome reused, Thanks created
    imported = Conversation.objects.get(list=other)
    first = Step.objects.get(version=working_version(imported), name="Hello")
    assert first.settings["message"] == welcome.pk


def test_a_missing_profile_field_is_named_with_its_place_and_nothing_is_created(
    conversation, tmp_path
):
    fields = {**SHOP_FIELDS, **EXTRA_FIELDS}
    del fields["Last Visit"]
    other = outlet(fields=fields)
    before = counts()
    with pytest.raises(CommandError) as error:
        import_file(write(tmp_path, export(conversation)), "--list", str(other.pk))
    message = str(error.value)
    assert (
        "steps[4].settings.field: no profile field named 'Last Visit' on list 'Outlet'" in message
    )
    assert "steps[10].settings.field_id: no profile field named 'Last Visit'" in message
    assert counts() == before


def test_a_field_of_another_type_or_a_missing_event_is_refused(conversation, tmp_path):
    other = outlet(fields={**SHOP_FIELDS, **EXTRA_FIELDS, "Points": DataType.TEXT})
    Event.objects.filter(list=other, name="Order placed").delete()
    before = counts()
    with pytest.raises(CommandError) as error:
        import_file(write(tmp_path, export(conversation)), "--list", str(other.pk))
    message = str(error.value)
    assert (
        "steps[5].settings.field: profile field 'Points' on list 'Outlet' is Text, "
        "not Numeric as in the file." in message
    )
    assert (
        "steps[11].settings.criteria.filters[0].segmentationField: profile field 'Points'"
        in message
    )
    assert "triggers[0].event: no event named 'Order placed' on list 'Outlet'." in message
    assert counts() == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not a JSON document"),
        ("[1, 2]", "The file must hold one JSON object."),
        ('{"format": 2}', "format: this file is format 2; only 1 can be imported."),
    ],
)
def test_malformed_json_or_another_format_is_refused(shop, tmp_path, text, expected):
    with pytest.raises(CommandError, match=expected):
        import_file(write(tmp_path, text))


def test_unknown_keys_and_bad_values_are_each_named(conversation, tmp_path):
    document = json.loads(export(conversation))
    document["colour"] = "blue"
    document["steps"][3]["note"] = "x"
    document["steps"][2]["kind"] = "Jump"
    document["messages"][0]["from_email"] = "not an address"
    document["steps"][0]["settings"]["message"] = "Goodbye"
    before = counts()
    with pytest.raises(CommandError) as error:
        import_file(write(tmp_path, document), "--list", str(conversation.list.pk))
    message = str(error.value)
    assert "unknown key 'colour'." in message
    assert "steps[3]: unknown key 'note'." in message
    assert (
        "steps[2].kind: must be one of Message, GoTo, Action, Wait, Terminate, not 'Jump'."
        in message
    )
    assert "messages[0].from_email: 'not an address' is not an email address." in message
    assert counts() == before
    # Once the shape is right, references are checked against the file's own sections.
    document = json.loads(export(conversation))
    document["steps"][0]["settings"]["message"] = "Goodbye"
    with pytest.raises(
        CommandError, match=r"steps\[0\].settings.message: no message named 'Goodbye'"
    ):
        import_file(write(tmp_path, document))
    assert counts() == before


def test_a_thread_hanging_off_its_own_step_or_no_step_is_refused(conversation, tmp_path):
    document = json.loads(export(conversation))
    document["threads"][1]["parent_step"] = "6f1b1d6e-0000-4000-8000-000000000000"
    with pytest.raises(CommandError, match=r"threads\[1\].parent_step: no step has the key 6f1b"):
        import_file(write(tmp_path, document))
    child_step = next(s for s in document["steps"] if s["thread"] == 1)
    document["threads"][1]["parent_step"] = child_step["key"]
    with pytest.raises(
        CommandError, match=r"threads\[1\].parent_step: the thread hangs off its own"
    ):
        import_file(write(tmp_path, document))


def test_a_given_version_is_exported_and_a_published_one_stays_as_published(conversation):
    before = json.loads(export(conversation))
    publish(conversation)
    Step.objects.filter(version=working_version(conversation), name="Hello").update(name="Hi!")
    published = json.loads(export(conversation, "--version", "1"))
    assert published == {**before, "conversation": {"name": "Birthday", "status": "Published"}}
    working = json.loads(export(conversation))
    assert working["steps"][0]["name"] == "Hi!"
    with pytest.raises(CommandError, match="has no version 7"):
        export(conversation, "--version", "7")


def test_an_unfinished_draft_is_imported_with_its_problems_as_warnings(shop, tmp_path):
    draft = ConversationFactory(list=shop, name="Draft")
    add_step(main_thread(draft), StepKind.WAIT, kind="duration", days=1)
    path = write(tmp_path, export(draft))
    result = import_json(path)
    assert result["problems"] == [
        "Main does not end in a Terminate step or a Go To without criteria."
    ]
    output = import_file(path)
    assert "Warning: Main does not end in a Terminate step" in output


def test_a_setting_pointing_at_nothing_cannot_be_exported(conversation):
    Step.objects.filter(version=working_version(conversation), name="Hello").update(
        settings={"message": 999_999}
    )
    with pytest.raises(CommandError, match=r"steps\[0\].settings.message: 999999 is not a message"):
        export(conversation)


def test_a_file_for_an_unknown_list_asks_for_one(conversation, tmp_path):
    document = json.loads(export(conversation)) | {"list": "Warehouse"}
    with pytest.raises(
        CommandError, match="list: no list named 'Warehouse'; choose one with --list"
    ):
        import_file(write(tmp_path, document))


def test_a_field_used_but_not_declared_with_its_type_is_refused(conversation, tmp_path):
    document = json.loads(export(conversation))
    document["profile_fields"] = [f for f in document["profile_fields"] if f["name"] != "Group"]
    with pytest.raises(
        CommandError, match=r"steps\[6\].settings.field: 'Group' is not in profile_fields"
    ):
        import_file(write(tmp_path, document))
