"""The ListImport resource, driven as a Listrak client drives it: POST the file
Base64-encoded, let the queued task run, then follow Status, Summary and the
per-row results."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.models import OrmQ

from api.base import INT32_MAX
from contacts.imports.models import ListImport
from contacts.imports.run import run_import
from contacts.imports.tasks import process_import
from contacts.models import Activity, ActivityKind, Contact
from lists.models import List, ProfileField
from tests.api_helpers import ApiCaller, api_caller, assert_error
from tests.factories import ContactFactory, EventFactory, ListFactory, ProfileFieldFactory

INVALID = "ERROR_INVALID_PARAMETER"
NOT_FOUND = "ERROR_UNABLE_TO_LOCATE_RESOURCE"
CSV = (
    "Email,First Name,Points,Cart Abandoned\n"
    "ann@example.com,Ann,10,yes\n"
    "bob@example.com,Bob,5,\n"
    "not-an-address,Cy,1,\n"
    "carol@example.com,Carol,7,yes\n"
    "dee@example.com,Dee,x,\n"
    "ann@example.com,Annie,11,\n"
)


EMAIL_ONLY = [{"fileColumn": 0, "fileColumnType": "Email"}]


def b64(content: str | bytes) -> str:
    data = content.encode() if isinstance(content, str) else content
    return base64.b64encode(data).decode()


def field_id(email_list: List, name: str) -> int:
    return ProfileField.objects.get(list=email_list, name=name).pk


def import_file(email_list: List, **overrides: Any) -> dict[str, Any]:
    """An ImportFile body for CSV: the address, two profile fields and an event column."""
    body = {
        "fileDelimiter": ",",
        "fileMappings": [
            {"fileColumn": 0, "fileColumnType": "Email"},
            {
                "fileColumn": 1,
                "fileColumnType": "SegmentationField",
                "segmentationFieldId": field_id(email_list, "First Name"),
            },
            {
                "fileColumn": 2,
                "fileColumnType": "SegmentationField",
                "segmentationFieldId": field_id(email_list, "Points"),
            },
            {"fileColumn": 3, "fileColumnType": "Event"},
        ],
        "fileName": "spring customers.csv",
        "fileStream": b64(CSV),
        "hasColumnNames": True,
        "importType": "AddSubscribersAndSegmentationData",
        "segmentationImportType": "Update",
        "suppressEmailNotifications": False,
        "textQualifier": '"',
        "triggerJourney": True,
        "includeUnsubscribed": False,
    }
    body.update(overrides)
    return body


@pytest.fixture
def cart(shop: List):
    return EventFactory(list=shop, name="cart abandoned")


def post_import(api: ApiCaller, email_list: List, body: dict[str, Any], capture) -> ListImport:
    """POST the import, check the 201, and run its queued task as a worker would."""
    with capture(execute=True):
        response = api.post(f"List/{email_list.pk}/ListImport", body)
    assert response.status_code == 201, response.content
    created = response.json()
    list_import = ListImport.objects.get(pk=int(created["resourceId"]))
    assert created == {"status": 201, "resourceId": str(list_import.pk)}
    task = OrmQ.objects.get().task
    assert (task["func"], task["args"]) == (process_import, (list_import.pk,))
    task["func"](*task["args"], **task["kwargs"])
    return list_import


def all_rows(api: ApiCaller, path: str, count: int) -> tuple[list[dict[str, str]], int]:
    """Every row of a paged route, following nextPageCursor; and how many pages it took."""
    rows: list[dict[str, str]] = []
    cursor, pages = "Start", 0
    while cursor is not None:
        body = api.get(f"{path}?count={count}&cursor={cursor}").json()
        assert body["status"] == 200
        rows += body["data"]
        cursor, pages = body["nextPageCursor"], pages + 1
    return rows, pages


# --- A whole import ------------------------------------------------------------------


def test_a_posted_file_is_imported_in_the_background_and_its_results_can_be_followed(
    api, shop, cart, django_capture_on_commit_callbacks
):
    ContactFactory(list=shop, email="carol@example.com")
    list_import = post_import(api, shop, import_file(shop), django_capture_on_commit_callbacks)
    base = f"List/{shop.pk}/ListImport/{list_import.pk}"

    status = api.get(f"{base}/Status").json()
    assert status["status"] == 200
    assert status["data"]["status"] == "ProcessingCompleted"
    assert status["data"]["startDate"] and status["data"]["endDate"]

    summary = api.get(f"{base}/Summary").json()
    assert summary == {
        "status": 200,
        "data": {
            "processedCount": 6,
            "subscribedCount": 3,
            "alreadySubscribedCount": 1,
            "previouslyUnsubscribedCount": 0,
            "unsubscribedCount": 0,
            "alreadyUnsubscribedCount": 0,
            "invalidEmailCount": 1,
            "bannedCount": 0,
            "suppressedCount": 0,
            "skippedCount": 1,
        },
    }

    rows, pages = all_rows(api, f"{base}/Contact", count=2)
    assert pages == 3
    assert rows == [
        {"emailAddress": "ann@example.com", "importResult": "Skipped"},
        {"emailAddress": "bob@example.com", "importResult": "Subscribed"},
        {"emailAddress": "not-an-address", "importResult": "Invalid"},
        {"emailAddress": "carol@example.com", "importResult": "AlreadySubscribed"},
        {"emailAddress": "dee@example.com", "importResult": "Subscribed"},
        {"emailAddress": "ann@example.com", "importResult": "Subscribed"},
    ]

    ann = Contact.objects.get(list=shop, email="ann@example.com")
    assert ann.profile[str(field_id(shop, "First Name"))] == "Annie"
    assert ann.profile[str(field_id(shop, "Points"))] == "11"
    # The header named the event; only non-blank cells fire it.
    fired = Activity.objects.filter(kind=ActivityKind.EVENT_FIRED, list=shop)
    assert sorted(a.email for a in fired) == ["carol@example.com"]


def test_the_import_is_stored_as_posted_and_waits_for_its_task(
    api, shop, cart, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"List/{shop.pk}/ListImport", import_file(shop))
    assert response.status_code == 201
    assert len(callbacks) == 1  # queued once the request's transaction commits
    list_import = ListImport.objects.get()
    assert list_import.file_name == "spring customers.csv"
    assert list_import.file.read().decode() == CSV
    assert list_import.email_column == "0"
    assert list_import.field_map == {
        "1": field_id(shop, "First Name"),
        "2": field_id(shop, "Points"),
    }
    assert list_import.event_map == {"3": cart.pk}
    assert (list_import.delimiter, list_import.has_header) == (",", True)
    assert list_import.import_type == "AddSubscribersAndSegmentationData"
    assert list_import.segmentation_type == "Update"

    status = api.get(f"List/{shop.pk}/ListImport/{list_import.pk}/Status").json()["data"]
    assert status == {"startDate": None, "endDate": None, "status": "DataUploaded"}
    rows = api.get(f"List/{shop.pk}/ListImport/{list_import.pk}/Contact").json()
    assert rows == {"status": 200, "nextPageCursor": None, "data": []}


@pytest.mark.django_db(transaction=True)
def test_a_committed_import_is_queued_for_a_worker():
    email_list = ListFactory()
    response = api_caller().post(
        f"List/{email_list.pk}/ListImport",
        {
            "fileDelimiter": ",",
            "fileMappings": [{"fileColumn": 0, "fileColumnType": "Email"}],
            "fileName": "a.csv",
            "fileStream": b64("a@example.com\n"),
            "importType": "AddSubscribers",
            "segmentationImportType": "Update",
        },
    )
    assert response.status_code == 201
    task = OrmQ.objects.get().task
    assert task["name"] == f"import-{response.json()['resourceId']}"


def test_a_tab_separated_file_without_column_names_names_its_event_by_id(
    api, shop, cart, django_capture_on_commit_callbacks
):
    content = "x@example.com\t1\ny@example.com\t\n"
    body = import_file(
        shop,
        fileDelimiter="tab",
        hasColumnNames=False,
        fileStream=b64(content),
        fileMappings=[
            {"fileColumn": 0, "fileColumnType": "Email"},
            {"fileColumn": 1, "fileColumnType": "Event", "eventId": cart.pk},
        ],
    )
    list_import = post_import(api, shop, body, django_capture_on_commit_callbacks)
    assert list_import.delimiter == "\t"
    list_import.refresh_from_db()
    assert list_import.subscribed_count == 2
    fired = Activity.objects.filter(kind=ActivityKind.EVENT_FIRED, list=shop)
    assert [a.email for a in fired] == ["x@example.com"]


@pytest.mark.parametrize("delimiter", ["\t", "\\t", "TAB", " tab "])
def test_a_tab_delimiter_may_be_written_as_a_listrak_client_would(api, shop, cart, delimiter):
    body = import_file(shop, fileDelimiter=delimiter, fileStream=b64(CSV.replace(",", "\t")))
    response = api.post(f"List/{shop.pk}/ListImport", body)
    assert response.status_code == 201, response.content
    assert ListImport.objects.get().delimiter == "\t"


def test_a_dotnet_client_with_pascal_case_names_and_nulls_is_understood(api, shop, cart):
    body = {key[0].upper() + key[1:]: value for key, value in import_file(shop).items()}
    body["TextQualifier"] = None
    body["FileMappings"][0].update(SegmentationFieldId=0, DefaultValue=None)
    body["ImportType"] = "addsubscribersandsegmentationdata"
    response = api.post(f"List/{shop.pk}/ListImport", body)
    assert response.status_code == 201, response.content
    assert ListImport.objects.get().import_type == "AddSubscribersAndSegmentationData"


@pytest.mark.parametrize(
    "options",
    [
        {"suppressEmailNotifications": True},
        {"textQualifier": ""},
        {"triggerJourney": None, "includeUnsubscribed": None},
        {"importType": "UpdateSubscribers", "includeUnsubscribed": False},
        {"importType": "AddSubscribers", "includeUnsubscribed": True, "fileMappings": EMAIL_ONLY},
        {"importType": "RemoveSubscribers", "triggerJourney": False, "fileMappings": EMAIL_ONLY},
    ],
)
def test_options_that_match_what_the_importer_does_are_accepted(api, shop, cart, options):
    response = api.post(f"List/{shop.pk}/ListImport", import_file(shop, **options))
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("file_name", "stored_as"),
    [("..\\..\\etc/passwd", "passwd"), ("é" * 200 + ".csv", "é" * 50 + ".csv")],
)
def test_the_file_name_is_kept_as_given_but_stored_under_a_safe_one(
    api, shop, file_name, stored_as
):
    body = import_file(shop, fileName=file_name, fileMappings=EMAIL_ONLY)
    response = api.post(f"List/{shop.pk}/ListImport", body)
    assert response.status_code == 201, response.content
    list_import = ListImport.objects.get()
    assert list_import.file_name == file_name
    assert (
        api.get(f"List/{shop.pk}/ListImport/{list_import.pk}").json()["data"]["importFileName"]
        == file_name
    )
    stored = Path(list_import.file.path).resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert stored.name == stored_as
    assert stored.read_text() == CSV


# --- Bad requests: a clear 400, and nothing created --------------------------------------


def mapping(column: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {"fileColumn": column, "fileColumnType": kind, **extra}


BAD_REQUESTS = {
    "missing field": (lambda s: {"fileName": None}, ["fileName"]),
    "unknown field": (lambda s: {"fileSize": 3}, ["fileSize"]),
    "import type": (lambda s: {"importType": "AddEveryone"}, ["importType", "AddSubscribers"]),
    "segmentation type": (
        lambda s: {"segmentationImportType": "Merge"},
        ["segmentationImportType", "Append"],
    ),
    "column type": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(1, "Phone")]},
        ["fileMappings[1].fileColumnType", "ExternalContactID"],
    ),
    "negative column": (
        lambda s: {"fileMappings": [mapping(-1, "Email")]},
        ["fileMappings[0].fileColumn"],
    ),
    "not base64": (lambda s: {"fileStream": "not*base64!"}, ["fileStream", "Base64"]),
    "not utf-8": (
        lambda s: {"fileStream": b64("Email\nj\xf6rg@example.com\n".encode("latin-1"))},
        ["fileStream", "not UTF-8", "0xf6"],
    ),
    "empty file": (lambda s: {"fileStream": b64("\n \n")}, ["fileStream", "empty"]),
    "long delimiter": (lambda s: {"fileDelimiter": ",;"}, ["fileDelimiter", "one ASCII"]),
    "quote delimiter": (lambda s: {"fileDelimiter": '"'}, ["fileDelimiter", "cannot separate"]),
    "no email": (
        lambda s: {"fileMappings": [mapping(1, "SegmentationField", segmentationFieldId=1)]},
        ["fileMappings", "exactly one Email mapping", "none"],
    ),
    "two emails": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(1, "Email")]},
        ["exactly one Email mapping", "fileMappings[0], fileMappings[1]"],
    ),
    "column beyond the file": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(4, "Event")]},
        ["fileMappings[1].fileColumn", "Column 4 does not exist", "4 columns (0 to 3)"],
    ),
    "field of another list": (
        lambda s: {
            "fileMappings": [
                mapping(0, "Email"),
                mapping(
                    1, "SegmentationField", segmentationFieldId=ProfileFieldFactory.create().pk
                ),
            ]
        },
        ["fileMappings[1].segmentationFieldId", "not a profile field of list 'Shop'"],
    ),
    "field without id": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(1, "SegmentationField")]},
        ["fileMappings[1].segmentationFieldId", "names its profile field"],
    ),
    "field twice": (
        lambda s: {
            "fileMappings": [
                mapping(0, "Email"),
                mapping(1, "SegmentationField", segmentationFieldId=field_id(s, "Points")),
                mapping(2, "SegmentationField", segmentationFieldId=field_id(s, "Points")),
            ]
        },
        ["fileMappings", "'Points' is mapped from two columns"],
    ),
    "column mapped twice": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(3, "Event"), mapping(3, "Event")]},
        ["fileMappings[2]", "Column 3 is already mapped as Event by fileMappings[1]"],
    ),
    "unknown event header": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(1, "Event")]},
        ["fileMappings[1]", "Column 1 is named 'First Name'", "not an event of list 'Shop'"],
    ),
    "event of another list": (
        lambda s: {
            "fileMappings": [
                mapping(0, "Email"),
                mapping(3, "Event", eventId=EventFactory.create().pk),
            ]
        },
        ["fileMappings[1].eventId", "Column 3", "not an event of list 'Shop'"],
    ),
    "event without header or id": (
        lambda s: {
            "hasColumnNames": False,
            "fileMappings": [mapping(0, "Email"), mapping(3, "Event")],
        },
        ["fileMappings[1]", "Column 3", "gives its eventId"],
    ),
    "profile data on AddSubscribers": (
        lambda s: {"importType": "AddSubscribers"},
        ["fileMappings[1]", "importType AddSubscribers does not import profile data"],
    ),
    "events on RemoveSubscribers": (
        lambda s: {
            "importType": "RemoveSubscribers",
            "fileMappings": [mapping(0, "Email"), mapping(3, "Event")],
        },
        ["fileMappings[1]", "RemoveSubscribers fires no events"],
    ),
    "event id on a field column": (
        lambda s: {"fileMappings": [mapping(0, "Email", eventId=4)]},
        ["fileMappings[0]", "eventId belongs to Event mappings only"],
    ),
    "external contact id": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(1, "ExternalContactID")]},
        ["fileMappings[1].fileColumnType", "does not support ExternalContactID"],
    ),
    "default value": (
        lambda s: {"fileMappings": [mapping(0, "Email"), mapping(3, "Event", defaultValue="no")]},
        ["fileMappings[1].defaultValue", "does not support default values"],
    ),
    "text qualifier": (
        lambda s: {"textQualifier": "'"},
        ["textQualifier", "does not support a text qualifier other than"],
    ),
    "no journeys": (
        lambda s: {"triggerJourney": False},
        ["triggerJourney", "does not support triggerJourney false"],
    ),
    "unsubscribed contacts": (
        lambda s: {"importType": "UpdateSubscribers", "includeUnsubscribed": True},
        ["includeUnsubscribed", "does not support includeUnsubscribed true"],
    ),
    "numeric header": (
        lambda s: {
            "fileStream": b64("Email,2,x\na@example.com,b,c\n"),
            "fileMappings": [
                mapping(0, "Email"),
                mapping(2, "SegmentationField", segmentationFieldId=field_id(s, "Points")),
            ],
        },
        ["hasColumnNames", "numbers", "'2'"],
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_a_bad_import_request_is_a_clear_400_and_creates_nothing(api, shop, cart, case):
    overrides, words = BAD_REQUESTS[case]
    body = import_file(shop, **overrides(shop))
    body = {key: value for key, value in body.items() if value is not None}
    response = api.post(f"List/{shop.pk}/ListImport", body)
    assert_error(response, 400, INVALID, *words)
    assert not ListImport.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_a_body_that_is_not_a_json_object_is_refused(api, shop):
    assert_error(
        api.post(f"List/{shop.pk}/ListImport", [1, 2]), 400, "ERROR_MALFORMED_REQUEST_BODY"
    )
    assert not ListImport.objects.exists()


def test_a_file_larger_than_djangos_form_limit_is_accepted(api, shop):
    big = "Email\n" + "someone.with.a.long.name@example.com\n" * 80_000
    body = import_file(shop, fileStream=b64(big), fileMappings=EMAIL_ONLY)
    django_default_limit = 2_621_440  # DATA_UPLOAD_MAX_MEMORY_SIZE's default
    assert len(json.dumps(body)) > max(django_default_limit, settings.API_MAX_BODY_BYTES)
    response = api.post(f"List/{shop.pk}/ListImport", body)
    assert response.status_code == 201, response.content


def test_a_body_over_the_import_limit_is_413_and_creates_nothing(api, shop):
    raw = b'{"fileStream": "' + b"A" * settings.API_MAX_IMPORT_BYTES + b'"}'
    response = api.call("POST", f"List/{shop.pk}/ListImport", raw=raw)
    assert_error(response, 413, "ERROR_MALFORMED_REQUEST_BODY")
    assert not ListImport.objects.exists()


def test_unmapped_columns_named_after_profile_fields_are_not_imported(
    api, shop, cart, django_capture_on_commit_callbacks
):
    body = import_file(shop, fileMappings=EMAIL_ONLY)
    list_import = post_import(api, shop, body, django_capture_on_commit_callbacks)
    list_import.refresh_from_db()
    assert list_import.subscribed_count == 4
    assert Contact.objects.get(list=shop, email="bob@example.com").profile == {}
    assert not Activity.objects.filter(kind=ActivityKind.EVENT_FIRED).exists()

    update = import_file(shop, importType="UpdateSubscribers", fileMappings=EMAIL_ONLY)
    response = api.post(f"List/{shop.pk}/ListImport", update)
    assert_error(response, 400, INVALID, "'First Name', 'Points'", "no SegmentationField mapping")
    assert ListImport.objects.count() == 1


# --- Reading imports -----------------------------------------------------------------


def stored_import(email_list: List, name: str = "a.csv") -> ListImport:
    list_import = ListImport(list=email_list, file_name=name)
    list_import.file.save(name, ContentFile(b"Email\na@example.com\n"), save=True)
    return list_import


def test_the_imports_of_a_list_are_listed_oldest_first_and_read_one_by_one(api, shop):
    first, second = stored_import(shop, "first.csv"), stored_import(shop, "second.csv")
    stored_import(ListFactory())  # another list's

    listed = api.get(f"List/{shop.pk}/ListImport").json()
    assert listed["status"] == 200
    assert [(i["importFileId"], i["importFileName"]) for i in listed["data"]] == [
        (first.pk, "first.csv"),
        (second.pk, "second.csv"),
    ]
    one = api.get(f"List/{shop.pk}/ListImport/{second.pk}/").json()
    assert one == {"status": 200, "data": listed["data"][1]}
    assert parse_datetime(one["data"]["importDate"]) == second.created_at


def test_a_failed_import_says_so_in_its_status(api, shop):
    list_import = stored_import(shop)
    Path(list_import.file.path).unlink()  # e.g. MEDIA_ROOT was not shared with the worker
    run_import(list_import.pk)
    status = api.get(f"List/{shop.pk}/ListImport/{list_import.pk}/Status").json()["data"]
    assert status["status"] == "ProcessingFailed"
    assert status["startDate"] and status["endDate"]


def test_the_import_list_can_be_bounded_by_dates(api, shop):
    list_import = stored_import(shop)
    day = timezone.localtime(list_import.created_at, shop.zone).date()
    path = f"List/{shop.pk}/ListImport"
    assert len(api.get(f"{path}?startDate={day}&endDate={day}").json()["data"]) == 1
    assert api.get(f"{path}?startDate=2999-01-01").json()["data"] == []
    assert api.get(f"{path}?endDate=2000-01-01T00:00:00Z").json()["data"] == []
    assert_error(api.get(f"{path}?startDate=yesterday"), 400, INVALID, "startDate", "yesterday")
    assert_error(api.get(f"{path}?endDate=2024-13-01"), 400, INVALID, "endDate")
    us_day = day.strftime("%m/%d/%Y")
    assert len(api.get(f"{path}?startDate={us_day}&endDate={us_day}").json()["data"]) == 1


def test_an_unknown_list_or_import_is_404(api, shop):
    other = stored_import(ListFactory())
    mine = stored_import(shop)
    assert_error(api.get("List/999999/ListImport"), 404, NOT_FOUND, "listId")
    assert_error(api.post("List/999999/ListImport", import_file(shop)), 404, NOT_FOUND, "listId")
    assert_error(api.get(f"List/999999/ListImport/{mine.pk}/Status"), 404, NOT_FOUND)
    message = "Unable to locate a resource associated with the listId and importFileId supplied."
    for suffix in ("", "/Status", "/Summary", "/Contact"):
        for import_id in (other.pk, INT32_MAX):
            response = api.get(f"List/{shop.pk}/ListImport/{import_id}{suffix}")
            assert assert_error(response, 404, NOT_FOUND)["message"] == message
    assert_error(api.get(f"List/{shop.pk}/ListImport/abc/Status"), 400, INVALID, "importFileId")


def test_a_tampered_cursor_is_a_400(api, shop):
    list_import = stored_import(shop)
    run_import(list_import.pk)
    path = f"List/{shop.pk}/ListImport/{list_import.pk}/Contact"
    tampered = base64.urlsafe_b64encode(b'["1"]').decode()
    too_far = base64.urlsafe_b64encode(json.dumps([2**70]).encode()).decode()
    for cursor in ("garbage", tampered, too_far):
        assert_error(api.get(f"{path}?cursor={cursor}"), 400, INVALID, "cursor")
    assert_error(api.get(f"{path}?count=0"), 400, INVALID, "count")


# --- Scopes ---------------------------------------------------------------------------


def test_reading_an_imports_results_needs_the_report_scope(db, shop):
    list_import = stored_import(shop)
    api = api_caller(scopes=["List", "Contact"])
    base = f"List/{shop.pk}/ListImport/{list_import.pk}"
    assert api.get(base).status_code == 200
    assert api.get(f"List/{shop.pk}/ListImport").status_code == 200
    for suffix in ("/Status", "/Summary", "/Contact"):
        assert_error(api.get(f"{base}{suffix}"), 401, "ERROR_UNAUTHORIZED", "Report")


def test_starting_an_import_needs_the_contact_scope(db, shop, cart):
    api = api_caller(scopes=["List", "Report"])
    response = api.post(f"List/{shop.pk}/ListImport", import_file(shop))
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "Contact")
    assert not ListImport.objects.exists()
