"""Imports follow Listrak's rules, on every import path (SPEC section 3)."""

import re

import pytest
from django.db import connection

from contacts.hooks import activities_recorded
from contacts.imports.models import ImportStatus, ImportType, SegmentationImportType
from contacts.models import Activity, ActivityKind, Ban, Contact, SubscriptionState, Suppression
from contacts.services import unsubscribe_contact
from lists.models import EventStatus
from tests.factories import ContactFactory, EventFactory
from tests.imports_helpers import do_import, engines, results

pytestmark = pytest.mark.django_db


def key(email_list, name):
    return email_list.profile_fields.get(name=name).key


def contact(email):
    return Contact.objects.get(email=email)


def test_new_addresses_are_subscribed_with_their_values(shop, engine):
    done = do_import(
        shop,
        "Email,First Name,Birthday,Points,VIP,Unused\r\n"
        "Ada@Example.com,Ada,12/10/1815,10.50,yes,x\r\n"
        "grace@example.com,Grace,1906-12-09,,1,y\r\n",
        engine=engine,
    )
    assert done.status == ImportStatus.PROCESSING_COMPLETED, done.error
    assert done.summary()["subscribedCount"] == 2
    assert done.summary()["processedCount"] == 2
    ada = contact("ada@example.com")
    assert ada.state == SubscriptionState.SUBSCRIBED
    assert ada.subscribe_method == "List Import"
    assert ada.profile == {
        key(shop, "First Name"): "Ada",
        key(shop, "Birthday"): "1815-12-10",
        key(shop, "Points"): "10.5",
    }
    # "yes" is not a check-box value: refused and reported with its column, the row imported.
    assert done.invalid_value_count == 1
    assert results(done)[0][2:] == (
        "Subscribed",
        "Column 'VIP': Profile field 'VIP': 'yes' is not on/off; use on, true, 1, off, false or 0.",
    )
    assert contact("grace@example.com").profile[key(shop, "VIP")] == "on"
    # A new contact starts with its values: one "subscribed", no "profile updated".
    kinds = list(Activity.objects.filter(contact=ada).values_list("kind", "details"))
    assert kinds == [(ActivityKind.SUBSCRIBED, {"method": "List Import"})]


def test_an_unsubscribed_contact_is_never_resubscribed_nor_updated(shop, engine):
    gone = ContactFactory(list=shop, email="gone@example.com")
    unsubscribe_contact(contact=gone, method="Unsubscribe Link")
    done = do_import(shop, "email,First Name\ngone@example.com,Back\n", engine=engine)
    assert results(done)[0][2] == "PreviouslyUnsubscribed"
    assert done.summary()["previouslyUnsubscribedCount"] == 1
    gone.refresh_from_db()
    assert gone.state == SubscriptionState.UNSUBSCRIBED
    assert gone.profile == {}


def test_already_subscribed_contacts_get_their_values_updated(shop, engine):
    ContactFactory(list=shop, email="a@example.com", profile={key(shop, "First Name"): "Old"})
    done = do_import(shop, "email,first name\na@example.com,New\n", engine=engine)
    assert results(done)[0][2] == "AlreadySubscribed"
    a = contact("a@example.com")
    assert a.profile == {key(shop, "First Name"): "New"}
    assert list(a.activities.values_list("kind", "details")) == [
        (
            ActivityKind.PROFILE_UPDATED,
            {
                "update_type": "Update",
                "changes": {key(shop, "First Name"): {"old": "Old", "new": "New"}},
            },
        )
    ]


def test_banned_and_suppressed_addresses_are_reported_and_not_added(shop, engine):
    Ban.objects.create(list=shop, email="banned@example.com")
    Suppression.objects.create(email="quiet@example.com")
    done = do_import(
        shop, "email\nbanned@example.com\nquiet@example.com\nok@example.com\n", engine=engine
    )
    assert [r[2] for r in results(done)] == ["Banned", "Suppressed", "Subscribed"]
    summary = done.summary()
    assert (summary["bannedCount"], summary["suppressedCount"], summary["subscribedCount"]) == (
        1,
        1,
        1,
    )
    assert list(Contact.objects.values_list("email", flat=True)) == ["ok@example.com"]


def test_a_repeated_address_last_row_wins_and_the_others_are_skipped(shop, engine):
    done = do_import(
        shop,
        "email,First Name\nrep@example.com,First\nx@example.com,X\nREP@example.com,Last\n",
        engine=engine,
    )
    assert [(r[0], r[2]) for r in results(done)] == [
        (1, "Skipped"),
        (2, "Subscribed"),
        (3, "Subscribed"),
    ]
    assert results(done)[0][3] == "The address appears again in row 3."
    assert contact("rep@example.com").profile == {key(shop, "First Name"): "Last"}
    assert done.summary()["skippedCount"] == 1


def test_update_subscribers_ignores_addresses_not_on_the_list(shop, engine):
    ContactFactory(list=shop, email="on@example.com")
    done = do_import(
        shop,
        "email,Points\non@example.com,5\nnew@example.com,6\n",
        engine=engine,
        import_type=ImportType.UPDATE_SUBSCRIBERS,
    )
    assert [r[2:] for r in results(done)] == [
        ("AlreadySubscribed", ""),
        ("Skipped", "The address is not on the list."),
    ]
    assert not Contact.objects.filter(email="new@example.com").exists()
    assert contact("on@example.com").profile == {key(shop, "Points"): "5"}


def test_remove_subscribers_unsubscribes_with_the_import_method(shop, engine):
    ContactFactory(list=shop, email="a@example.com")
    gone = ContactFactory(list=shop, email="b@example.com")
    unsubscribe_contact(contact=gone, method="Admin")
    done = do_import(
        shop,
        "email,First Name\na@example.com,Ignored\nb@example.com,x\nc@example.com,y\n",
        engine=engine,
        import_type=ImportType.REMOVE_SUBSCRIBERS,
    )
    assert [r[2] for r in results(done)] == ["UnSubscribed", "AlreadyUnSubscribed", "Skipped"]
    a = contact("a@example.com")
    assert (a.state, a.unsubscribe_method, a.profile) == (
        SubscriptionState.UNSUBSCRIBED,
        "List Import",
        {},
    )
    summary = done.summary()
    assert (summary["unsubscribedCount"], summary["alreadyUnsubscribedCount"]) == (1, 1)


def test_add_subscribers_ignores_profile_columns(shop, engine):
    done = do_import(
        shop,
        "email,Birthday\na@example.com,not a date\n",
        engine=engine,
        import_type=ImportType.ADD_SUBSCRIBERS,
    )
    assert results(done)[0][2:] == ("Subscribed", "")
    assert contact("a@example.com").profile == {}


@pytest.mark.parametrize(
    ("segmentation_type", "expected"),
    [
        (SegmentationImportType.UPDATE, {"First Name": "New", "Points": "1"}),
        (SegmentationImportType.APPEND, {"First Name": "Old", "Points": "1", "VIP": "on"}),
        (SegmentationImportType.OVERWRITE, {"First Name": "New", "Points": "1"}),  # VIP blanked
    ],
)
def test_each_segmentation_type(shop, engine, segmentation_type, expected):
    ContactFactory(
        list=shop,
        email="a@example.com",
        profile={key(shop, "First Name"): "Old", key(shop, "Points"): "1", key(shop, "VIP"): "on"},
    )
    csv = "email,First Name,VIP\na@example.com,New,\n"
    if segmentation_type == SegmentationImportType.UPDATE:
        csv = "email,First Name,VIP\na@example.com,New,off\n"
        expected = {**expected, "VIP": "off"}
    do_import(shop, csv, engine=engine, segmentation_type=segmentation_type)
    assert contact("a@example.com").profile == {
        key(shop, name): value for name, value in expected.items()
    }


def test_the_profile_activity_names_each_change_with_its_old_and_new_value(shop, engine):
    first, points, birthday = (key(shop, name) for name in ("First Name", "Points", "Birthday"))
    ContactFactory(
        list=shop, email="a@example.com", profile={first: 'Old "quoted" \\ ü', points: "3"}
    )
    do_import(
        shop,
        'email,First Name,Points,Birthday\na@example.com,"New, ""quoted"" ü\ttab",,1999-02-03\n',
        engine=engine,
        segmentation_type=SegmentationImportType.OVERWRITE,
    )
    (details,) = Activity.objects.filter(kind=ActivityKind.PROFILE_UPDATED).values_list(
        "details", flat=True
    )
    assert details == {
        "update_type": "Overwrite",
        "changes": {
            first: {"old": 'Old "quoted" \\ ü', "new": 'New, "quoted" ü\ttab'},
            points: {"old": "3", "new": None},
            birthday: {"old": None, "new": "1999-02-03"},
        },
    }


def test_malformed_rows_are_reported_and_never_stop_the_rest(shop, engine):
    content = (
        "\ufeffEmail,First Name,Points\r\n"
        'one@example.com,"Smith, Jr.",1\r\n'
        "not-an-address,X,2\r\n"
        "short@example.com\r\n"
        "long@example.com,a,b,c\r\n"
        ',"multi\r\nline",3\r\n'
        "\r\n"
        'two@example.com,"He said ""hi""\nthen left",4\r\n'
    )
    done = do_import(shop, content, engine=engine)
    assert done.status == ImportStatus.PROCESSING_COMPLETED
    assert [(r[0], r[1], r[2]) for r in results(done)] == [
        (1, "one@example.com", "Subscribed"),
        (2, "not-an-address", "Invalid"),
        (3, "", "Invalid"),
        (4, "", "Invalid"),
        (5, "", "Invalid"),
        (6, "two@example.com", "Subscribed"),
    ]
    reasons = [r[3] for r in results(done)]
    assert reasons[1] == "'not-an-address' is not a valid email address."
    assert reasons[2] == "The row has 1 fields; the file's rows have 3."
    assert reasons[3] == "The row has 4 fields; the file's rows have 3."
    assert reasons[4] == "The email address is empty."
    assert contact("one@example.com").profile[key(shop, "First Name")] == "Smith, Jr."
    assert contact("two@example.com").profile[key(shop, "First Name")] == 'He said "hi"\nthen left'
    assert done.summary()["invalidEmailCount"] == 4
    assert done.summary()["processedCount"] == 6


def test_explicit_mapping_delimiter_and_no_header(shop, engine):
    done = do_import(
        shop,
        "Ada;a@example.com;3\n",
        engine=engine,
        delimiter=";",
        has_header=False,
        email_column="1",
        field_map={"0": "First Name", "2": str(shop.profile_fields.get(name="Points").pk)},
    )
    assert done.status == ImportStatus.PROCESSING_COMPLETED, done.error
    assert contact("a@example.com").profile == {
        key(shop, "First Name"): "Ada",
        key(shop, "Points"): "3",
    }


def test_event_columns_fire_events_for_subscribed_rows(shop, engine):
    event = EventFactory(list=shop, name="Purchase")
    blocked = EventFactory(list=shop, name="Old", status=EventStatus.BLOCKED)
    gone = ContactFactory(list=shop, email="gone@example.com")
    unsubscribe_contact(contact=gone, method="Admin")
    done = do_import(
        shop,
        "email,bought,old\na@example.com,19.99,x\nb@example.com,,x\ngone@example.com,5,x\n",
        engine=engine,
        event_map={"bought": "Purchase", "old": str(blocked.pk)},
    )
    assert done.status == ImportStatus.PROCESSING_COMPLETED, done.error
    fired = Activity.objects.filter(kind=ActivityKind.EVENT_FIRED)
    assert [(a.email, a.details) for a in fired] == [
        (
            "a@example.com",
            {
                "event_id": event.pk,
                "event_name": "Purchase",
                "data": {"import_id": done.pk, "value": "19.99"},
            },
        )
    ]


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("", {}, "The file is empty."),
        ("\ufeff\r\n\r\n", {}, "The file is empty."),
        ("name,phone\nAda,1\n", {}, "No email column: no column name contains 'email'"),
        (b"email\n\xff\xfe@example.com\n", {}, "The file is not UTF-8 text: byte 0xff at offset 6"),
        (
            "email,x\na@example.com,1\n",
            {"field_map": {"x": "Shoe Size"}},
            "Column 'x': Unknown profile field 'Shoe Size'",
        ),
        (
            "email,x\na@example.com,1\n",
            {"field_map": {"y": "Points"}},
            "The mapped column 'y' is not in the file",
        ),
        (
            "email,x\na@example.com,1\n",
            {"event_map": {"x": "Nope"}},
            "fires the unknown event 'Nope'",
        ),
        (
            "a@example.com,1\n",
            {"has_header": False, "field_map": {"Points": "Points"}},
            "cannot be found by name: the file has no header row",
        ),
        (
            "email,a,b\nz@example.com,1,2\n",
            {"field_map": {"a": "Points", "b": "points"}},
            "is mapped from two columns",
        ),
    ],
)
def test_whole_file_problems_fail_before_anything_is_written(
    shop, engine, content, options, message
):
    done = do_import(shop, content, engine=engine, **options)
    assert done.status == ImportStatus.PROCESSING_FAILED
    assert message in done.error
    assert not Contact.objects.exists()
    assert not Activity.objects.exists()
    assert done.summary()["processedCount"] == 0


def test_first_time_subscribers_of_an_import_reach_the_activity_hook(shop, engine):
    seen = []

    def receiver(sender, activities, **kwargs):
        seen.extend(activities.values_list("kind", "email"))

    activities_recorded.connect(receiver)
    try:
        do_import(shop, "email,Points\na@example.com,1\nb@example.com,2\nbad,3\n", engine=engine)
    finally:
        activities_recorded.disconnect(receiver)
    assert sorted(seen) == [("subscribed", "a@example.com"), ("subscribed", "b@example.com")]


def test_the_hints_given_to_the_activity_hook_cover_every_activity(shop, engine):
    """Receivers skip their queries for lists and kinds a batch is said not to
    hold: an import's hints must name all of its activities' lists and kinds."""
    EventFactory(list=shop, name="Purchase")
    ContactFactory(list=shop, email="old@example.com", profile={key(shop, "Points"): "1"})
    ContactFactory(list=shop, email="leaving@example.com")
    batches = []

    def receiver(sender, activities, list_ids=None, kinds=None, **kwargs):
        batches.append((set(activities.values_list("list_id", "kind")), list_ids, kinds))

    activities_recorded.connect(receiver)
    try:
        do_import(
            shop,
            "email,Points,bought\nnew@example.com,2,9.99\nold@example.com,3,\n",
            engine=engine,
            event_map={"bought": "Purchase"},
        )
        do_import(
            shop,
            "email\nleaving@example.com\n",
            engine=engine,
            import_type=ImportType.REMOVE_SUBSCRIBERS,
        )
    finally:
        activities_recorded.disconnect(receiver)
    seen = set().union(*(pairs for pairs, _, _ in batches))
    assert {kind for _, kind in seen} == {
        ActivityKind.SUBSCRIBED,
        ActivityKind.PROFILE_UPDATED,
        ActivityKind.EVENT_FIRED,
        ActivityKind.UNSUBSCRIBED,
    }
    for pairs, list_ids, kinds in batches:
        assert list_ids is None or {list_id for list_id, _ in pairs} <= list_ids
        assert kinds is None or {kind for _, kind in pairs} <= kinds


def test_imported_contacts_get_unguessable_keys(shop, engine):
    do_import(shop, "email\nb@example.com\na@example.com\nc@example.com\n", engine=engine)
    keys = list(Contact.objects.order_by("email").values_list("email_key", flat=True))
    assert all(re.fullmatch("[0-9a-f]{32}", key) for key in keys), keys
    assert len({key[12:] for key in keys}) == 3  # the 80 random bits
    if engine == "postgres":
        assert keys == sorted(keys)  # appended to the unique index in address order


if "postgres" in engines():  # a storage parameter SQLite does not have

    def test_contacts_leave_room_on_their_pages_for_updates():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'contacts_contact'")
            assert cursor.fetchone()[0] == ["fillfactor=50"]


def test_any_one_character_delimiter_works(shop, engine):
    done = do_import(shop, "email%Points\na@example.com%7\n", engine=engine, delimiter="%")
    assert done.status == ImportStatus.PROCESSING_COMPLETED, done.error
    assert contact("a@example.com").profile == {key(shop, "Points"): "7"}
