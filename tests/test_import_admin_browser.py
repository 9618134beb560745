"""Staff upload a CSV in a real browser; a real django-q2 worker imports it."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from contacts.imports.models import ImportStatus, ListImport
from contacts.models import Contact
from lists.models import DataType
from tests.browser import log_in
from tests.factories import ListFactory, ProfileFieldFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
IMPORT_SECONDS = 60
CONTENT = (
    "Email,First Name,Birthday\n"
    "ada@example.com,Ada,1815-12-10\n"
    "grace@example.com,Grace,12/09/1906\n"
    "not-an-address,Nobody,\n"
    "rep@example.com,First,\n"
    "linus@example.com,Linus,31/31/2020\n"
    "rep@example.com,Last,2001-02-03\n"
)


def database_url() -> str:
    """The test database, as the worker's DATABASE_URL."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """``manage.py qcluster`` on the test database and a shared MEDIA_ROOT, in its own
    process group so that stopping it stops its worker processes too."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    log = tmp_path / "qcluster.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "Q_WORKERS": "1",
        "REDIS_URL": "",
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    # SIGTERM to the cluster's main process stops it and its workers in under a second;
    # sent to the whole group, the workers die first and the main process waits for them
    # forever. Whatever is still there after the grace period is killed.
    for signum, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            if signum == signal.SIGTERM and process.poll() is None:
                os.kill(process.pid, signum)
            else:
                os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and group_alive(process):
            time.sleep(0.1)
        if not group_alive(process):
            break
    process.wait(timeout=5)


def group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader, so an empty group reads as empty
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def status_shown(page) -> str:
    """The status on the change page, which refreshes itself while the import runs."""
    from playwright.sync_api import Error

    try:
        return page.locator(".field-status .readonly").inner_text(timeout=5_000).strip()
    except Error:  # the page was reloading itself
        return ""


def shown(page, field: str) -> str:
    return page.locator(f".field-{field} .readonly").inner_text().strip()


def test_staff_upload_a_csv_and_a_worker_imports_it(live_server, browser_page, worker, tmp_path):
    process, log = worker
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    shop = ListFactory(name="Shop")
    group = ProfileFieldFactory(list=shop, group__list=shop, name="First Name").group
    ProfileFieldFactory(group=group, name="Birthday", data_type=DataType.DATE)
    ListFactory(name="Other")
    upload = tmp_path / "spring.csv"
    upload.write_text(CONTENT)

    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    # From the list's page to the upload page, with the list already chosen.
    page.goto(f"{live_server.url}/admin/lists/list/{shop.pk}/change/")
    page.click("text=Import contacts into this list")
    page.wait_for_selector("#id_file")
    assert page.input_value("#id_list") == str(shop.pk)
    page.set_input_files("#id_file", str(upload))
    page.fill("#id_field_map", "First Name=First Name\nBirthday=Birthday")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    match = re.search(r"/admin/contacts/listimport/(\d+)/change/", page.url)
    assert match, page.url
    import_id = int(match.group(1))

    deadline = time.monotonic() + IMPORT_SECONDS
    status = status_shown(page)
    while status not in ("Processing Completed", "Processing Failed"):
        assert process.poll() is None, f"the worker died:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"still {status!r}; worker log:\n{log.read_text()}"
        page.wait_for_timeout(250)
        status = status_shown(page)
    assert status == "Processing Completed", shown(page, "error")

    assert shown(page, "file_name") == "spring.csv"
    counts = {
        "processed_count": "6",
        "subscribed_count": "4",
        "invalid_email_count": "1",
        "skipped_count": "1",
        "banned_count": "0",
        "suppressed_count": "0",
        "invalid_value_count": "1",
    }
    assert {field: shown(page, field) for field in counts} == counts
    assert page.locator("meta[http-equiv=refresh]").count() == 0

    with page.expect_download() as info:
        page.click("text=Download rejected rows")
    download = info.value
    assert download.suggested_filename == f"import-{import_id}-rejected.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[0] == ["row", "email", "result", "reason"]
    assert [row[:3] for row in rows[1:]] == [
        ["3", "not-an-address", "Invalid"],
        ["4", "rep@example.com", "Skipped"],
        ["5", "linus@example.com", "Subscribed"],
    ]
    assert rows[1][3] == "'not-an-address' is not a valid email address."
    assert rows[2][3] == "The address appears again in row 6."
    assert rows[3][3].startswith("Column 'Birthday': ") and "31/31/2020" in rows[3][3]

    list_import = ListImport.objects.get(pk=import_id)
    assert list_import.status == ImportStatus.PROCESSING_COMPLETED
    assert sorted(Contact.objects.filter(list=shop).values_list("email", flat=True)) == [
        "ada@example.com",
        "grace@example.com",
        "linus@example.com",
        "rep@example.com",
    ]
    birthday = shop.profile_fields.get(name="Birthday").key
    assert Contact.objects.get(email="rep@example.com").profile[birthday] == "2001-02-03"
