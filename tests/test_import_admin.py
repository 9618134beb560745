"""Staff upload a contact import in the admin, follow it, and download its rejected rows."""

from __future__ import annotations

import csv
import datetime
import io
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from contacts.apps import RESUME_IMPORTS_FUNC, RESUME_IMPORTS_SCHEDULE
from contacts.imports.models import (
    ImportRowResult,
    ImportStatus,
    ImportType,
    ListImport,
    RowResult,
    SegmentationImportType,
)
from contacts.imports.tasks import process_import
from contacts.models import Ban, Contact
from tests.factories import ListFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/contacts/listimport/add/"
CONTENT = (
    "Email,First Name,Birthday\r\n"
    "ada@example.com,Ada,1815-12-10\r\n"
    "not-an-address,X,\r\n"
    "rep@example.com,First,\r\n"
    "bob@example.com,Bob,31/31/2020\r\n"
    "banned@example.com,Ban,\r\n"
    "rep@example.com,Last,\r\n"
)


def form_data(email_list, **overrides) -> dict:
    data = {
        "list": email_list.pk,
        "file": SimpleUploadedFile("spring customers.csv", CONTENT.encode(), "text/csv"),
        "import_type": ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA,
        "segmentation_type": SegmentationImportType.UPDATE,
        "delimiter": ",",
        "has_header": "on",
        "email_column": "",
        "field_map": "",
        "event_map": "",
    }
    data.update(overrides)
    return data


def upload(client: Client, data: dict, capture) -> object:
    with capture(execute=True):
        return client.post(ADD_URL, data)


def change_url(list_import: ListImport) -> str:
    return reverse("admin:contacts_listimport_change", args=[list_import.pk])


def rejected_url(list_import: ListImport) -> str:
    return reverse("admin:contacts_listimport_rejected", args=[list_import.pk])


def shown(html: str, field: str) -> str:
    """The value the change page shows for one of its read-only fields."""
    match = re.search(
        rf'field-{field}\b.*?<div class="readonly">(.*?)</div>', html, flags=re.DOTALL
    )
    assert match, f"{field} is not on the page"
    return match.group(1).strip()


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_an_upload_is_stored_and_queued_and_nothing_is_processed_in_the_request(
    admin_client, shop, django_capture_on_commit_callbacks
):
    response = upload(
        admin_client,
        form_data(shop, field_map="First Name = First Name\n\nBirthday=Birthday\n", delimiter=","),
        django_capture_on_commit_callbacks,
    )

    list_import = ListImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(list_import)
    assert list_import.file_name == "spring customers.csv"
    assert list_import.status == ImportStatus.DATA_UPLOADED
    assert list_import.field_map == {"First Name": "First Name", "Birthday": "Birthday"}
    assert list_import.event_map == {}
    assert list_import.file.read().decode() == CONTENT
    assert not Contact.objects.exists()
    queued = OrmQ.objects.get().task
    assert queued["name"] == f"import-{list_import.pk}"
    assert queued["func"] is process_import
    assert queued["args"] == (list_import.pk,)


def test_the_queued_task_runs_the_import_and_the_change_page_shows_its_counts(
    admin_client, shop, django_capture_on_commit_callbacks
):
    Ban.objects.create(list=shop, email="banned@example.com")
    upload(admin_client, form_data(shop), django_capture_on_commit_callbacks)
    queued = OrmQ.objects.get().task
    # What a django-q2 worker does with the task it pulls.
    queued["func"](*queued["args"], **queued["kwargs"])

    list_import = ListImport.objects.get()
    page = admin_client.get(change_url(list_import)).content.decode()
    assert shown(page, "status") == "Processing Completed"
    assert shown(page, "file_name") == "spring customers.csv"
    counts = {
        "processed_count": "6",
        "subscribed_count": "3",
        "already_subscribed_count": "0",
        "previously_unsubscribed_count": "0",
        "unsubscribed_count": "0",
        "already_unsubscribed_count": "0",
        "invalid_email_count": "1",
        "banned_count": "1",
        "suppressed_count": "0",
        "skipped_count": "1",
        "invalid_value_count": "1",
    }
    assert {field: shown(page, field) for field in counts} == counts
    assert 'http-equiv="refresh"' not in page
    assert f'href="{rejected_url(list_import)}"' in page
    assert "Download rejected rows" in page

    response = admin_client.get(rejected_url(list_import))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="import-{list_import.pk}-rejected.csv"'
    )
    rows = csv_rows(response)
    assert rows[0] == ["row", "email", "result", "reason"]
    assert [row[:3] for row in rows[1:]] == [
        ["2", "not-an-address", "Invalid"],
        ["3", "rep@example.com", "Skipped"],
        ["4", "bob@example.com", "Subscribed"],
        ["5", "banned@example.com", "Banned"],
    ]
    assert rows[1][3] == "'not-an-address' is not a valid email address."
    assert rows[2][3] == "The address appears again in row 6."
    assert rows[3][3].startswith("Column 'Birthday': ")
    assert "31/31/2020" in rows[3][3]


def test_the_rejected_rows_are_every_refused_result_and_every_row_with_a_reason_by_row(
    admin_client, shop
):
    list_import = ListImport.objects.create(
        list=shop, file_name="a.csv", status=ImportStatus.PROCESSING_COMPLETED
    )
    # Stored out of order; results without a reason are left out unless they refuse the row.
    rows = [
        (9, "s@example.com", RowResult.SUPPRESSED, ""),
        (1, "ok@example.com", RowResult.SUBSCRIBED, ""),
        (8, "b@example.com", RowResult.BANNED, ""),
        (2, "x", RowResult.INVALID, "'x' is not a valid email address."),
        (3, "dup@example.com", RowResult.SKIPPED, "The address appears again in row 4."),
        (4, "dup@example.com", RowResult.ALREADY_SUBSCRIBED, 'Column "Points": "a, b"'),
        (5, "gone@example.com", RowResult.PREVIOUSLY_UNSUBSCRIBED, ""),
        (6, "u@example.com", RowResult.UNSUBSCRIBED, ""),
        (7, "au@example.com", RowResult.ALREADY_UNSUBSCRIBED, ""),
    ]
    ImportRowResult.objects.bulk_create(
        ImportRowResult(list_import=list_import, row_number=n, email=e, result=r, reason=why)
        for n, e, r, why in rows
    )
    other = ListImport.objects.create(list=shop, file_name="b.csv")
    ImportRowResult.objects.create(list_import=other, row_number=1, email="y", result="Invalid")

    assert csv_rows(admin_client.get(rejected_url(list_import))) == [
        ["row", "email", "result", "reason"],
        ["2", "x", "Invalid", "'x' is not a valid email address."],
        ["3", "dup@example.com", "Skipped", "The address appears again in row 4."],
        ["4", "dup@example.com", "AlreadySubscribed", 'Column "Points": "a, b"'],
        ["8", "b@example.com", "Banned", ""],
        ["9", "s@example.com", "Suppressed", ""],
    ]


def test_the_change_page_refreshes_itself_only_while_the_import_runs(admin_client, shop):
    list_import = ListImport.objects.create(list=shop, file_name="a.csv")
    refresh = '<meta http-equiv="refresh" content="2">'

    for status in (ImportStatus.DATA_UPLOADED, ImportStatus.PROCESSING_DATA):
        ListImport.objects.filter(pk=list_import.pk).update(status=status)
        page = admin_client.get(change_url(list_import)).content.decode()
        assert refresh in page
        assert shown(page, "rejected_rows") == "When the import has completed."

    for status in (ImportStatus.PROCESSING_COMPLETED, ImportStatus.PROCESSING_FAILED):
        ListImport.objects.filter(pk=list_import.pk).update(status=status, error="Bad file.")
        page = admin_client.get(change_url(list_import)).content.decode()
        assert refresh not in page
        assert shown(page, "error") == "Bad file."


@pytest.mark.parametrize(
    ("field", "text", "error"),
    [
        (
            "field_map",
            "Email=Email\nFirst Name",
            "Line 2: &#x27;First Name&#x27; is not COLUMN=FIELD.",
        ),
        ("field_map", "=Birthday", "Line 1: &#x27;=Birthday&#x27; is not COLUMN=FIELD."),
        ("field_map", "a=b\nA = c", "Line 2: column &#x27;A&#x27; is mapped twice."),
        ("event_map", "Joined=", "Line 1: &#x27;Joined=&#x27; is not COLUMN=EVENT."),
    ],
)
def test_a_mapping_line_that_is_not_column_equals_target_is_refused_with_its_line(
    admin_client, shop, django_capture_on_commit_callbacks, field, text, error
):
    response = upload(
        admin_client, form_data(shop, **{field: text}), django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ListImport.objects.exists()
    assert not OrmQ.objects.exists()


def test_mappings_and_a_tab_delimiter_are_stored_as_the_worker_reads_them(
    admin_client, shop, django_capture_on_commit_callbacks
):
    upload(
        admin_client,
        form_data(
            shop,
            delimiter="tab",
            has_header="",
            email_column="1",
            field_map="0=First Name\n2=Birthday",
            event_map="3=Joined",
            import_type=ImportType.UPDATE_SUBSCRIBERS,
            segmentation_type=SegmentationImportType.OVERWRITE,
        ),
        django_capture_on_commit_callbacks,
    )
    list_import = ListImport.objects.get()
    assert list_import.delimiter == "\t"
    assert list_import.has_header is False
    assert list_import.email_column == "1"
    assert list_import.field_map == {"0": "First Name", "2": "Birthday"}
    assert list_import.event_map == {"3": "Joined"}
    assert list_import.import_type == ImportType.UPDATE_SUBSCRIBERS
    assert list_import.segmentation_type == SegmentationImportType.OVERWRITE
    page = admin_client.get(change_url(list_import)).content.decode()
    assert shown(page, "delimiter_name") == "tab"
    assert shown(page, "field_map_lines") == "0=First Name<br>2=Birthday"


@pytest.mark.parametrize(
    ("delimiter", "error"), [(";;", "The delimiter is one character"), ('"', "cannot be the")]
)
def test_a_delimiter_the_reader_cannot_use_is_refused(
    admin_client, shop, django_capture_on_commit_callbacks, delimiter, error
):
    response = upload(
        admin_client, form_data(shop, delimiter=delimiter), django_capture_on_commit_callbacks
    )
    assert error in response.content.decode()
    assert not ListImport.objects.exists()


def test_the_list_page_links_to_the_upload_page_with_that_list_chosen(admin_client, shop):
    ListFactory(name="Other")
    page = admin_client.get(reverse("admin:lists_list_change", args=[shop.pk])).content.decode()
    link = f"{ADD_URL}?list={shop.pk}"
    assert f'href="{link}"' in page
    assert "Import contacts into this list" in page

    upload_page = admin_client.get(link).content.decode()
    assert f'<option value="{shop.pk}" selected>Shop</option>' in upload_page
    # Only the upload's options are asked for; the results are the worker's.
    assert 'name="status"' not in upload_page
    assert 'name="_continue"' not in upload_page


def test_an_import_cannot_be_changed_through_the_admin(admin_client, shop):
    list_import = ListImport.objects.create(
        list=shop, file_name="a.csv", status=ImportStatus.PROCESSING_COMPLETED, subscribed_count=3
    )
    page = admin_client.get(change_url(list_import)).content.decode()
    assert 'name="_save"' not in page
    response = admin_client.post(
        change_url(list_import), {"list": shop.pk, "file_name": "b.csv", "subscribed_count": 0}
    )
    assert response.status_code == 403
    list_import.refresh_from_db()
    assert (list_import.file_name, list_import.subscribed_count) == ("a.csv", 3)


def test_a_finished_import_can_be_deleted_with_its_file_but_a_running_one_cannot(
    admin_client, shop, django_capture_on_commit_callbacks
):
    done = ListImport.objects.create(
        list=shop, file_name="a.csv", status=ImportStatus.PROCESSING_COMPLETED
    )
    done.file.save("a.csv", ContentFile(b"email\n"), save=True)
    upload_path = Path(done.file.path)
    assert upload_path.exists()
    ImportRowResult.objects.create(list_import=done, row_number=1, email="x", result="Invalid")
    running = ListImport.objects.create(
        list=shop,
        file_name="b.csv",
        status=ImportStatus.PROCESSING_DATA,
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    abandoned = ListImport.objects.create(
        list=shop,
        file_name="c.csv",
        status=ImportStatus.PROCESSING_DATA,
        lease_expires_at=timezone.now() - datetime.timedelta(minutes=5),
    )

    def delete(list_import):
        url = reverse("admin:contacts_listimport_delete", args=[list_import.pk])
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client.post(url, {"post": "yes"})

    assert delete(running).status_code == 403
    assert delete(done).status_code == 302
    assert delete(abandoned).status_code == 302
    assert list(ListImport.objects.values_list("file_name", flat=True)) == ["b.csv"]
    assert not ImportRowResult.objects.exists()
    assert not upload_path.exists()


def test_only_staff_allowed_to_view_imports_can_download_rejected_rows(
    client, django_user_model, shop
):
    list_import = ListImport.objects.create(
        list=shop, file_name="a.csv", status=ImportStatus.PROCESSING_COMPLETED
    )
    url = rejected_url(list_import)

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    customer = django_user_model.objects.create_user("customer", password="pw")
    client.force_login(customer)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_listimport"))
    client.force_login(django_user_model.objects.get(pk=staff.pk))
    response = client.get(url)
    assert response.status_code == 200
    assert csv_rows(response) == [["row", "email", "result", "reason"]]

    missing = reverse("admin:contacts_listimport_rejected", args=[list_import.pk + 100])
    assert client.get(missing).status_code == 404


def test_the_import_list_filters_by_status_and_list(admin_client, shop):
    other = ListFactory(name="Other")
    ListImport.objects.create(
        list=shop, file_name="done.csv", status=ImportStatus.PROCESSING_COMPLETED
    )
    ListImport.objects.create(list=shop, file_name="waiting.csv")
    ListImport.objects.create(list=other, file_name="elsewhere.csv")
    url = reverse("admin:contacts_listimport_changelist")

    page = admin_client.get(url, {"status__exact": "ProcessingCompleted"}).content.decode()
    assert "done.csv" in page
    assert "waiting.csv" not in page
    page = admin_client.get(url, {"list__id__exact": other.pk}).content.decode()
    assert "elsewhere.csv" in page
    assert "done.csv" not in page


def test_migrating_twice_leaves_one_schedule_sweeping_imports_every_minute():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)

    schedule = Schedule.objects.get(name=RESUME_IMPORTS_SCHEDULE)
    assert schedule.func == RESUME_IMPORTS_FUNC == "contacts.imports.tasks.resume_imports"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES,
        1,
        -1,
    )


def test_migrate_puts_back_a_changed_sweep_schedule_and_drops_duplicates():
    schedule = Schedule.objects.get(name=RESUME_IMPORTS_SCHEDULE)
    Schedule.objects.filter(pk=schedule.pk).update(schedule_type=Schedule.HOURLY, minutes=None)
    Schedule.objects.create(name=RESUME_IMPORTS_SCHEDULE, func="x.y")

    call_command("migrate", verbosity=0)

    kept = Schedule.objects.get(name=RESUME_IMPORTS_SCHEDULE)
    assert kept.pk == schedule.pk
    assert (kept.func, kept.schedule_type, kept.minutes) == (
        RESUME_IMPORTS_FUNC,
        Schedule.MINUTES,
        1,
    )
