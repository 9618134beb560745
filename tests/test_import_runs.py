"""Running imports: one worker per import, take-over after a crash, all or nothing."""

import datetime
import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone
from django_q.models import OrmQ

from contacts.hooks import activities_recorded
from contacts.imports.models import ImportRowResult, ImportStatus, ListImport
from contacts.imports.run import run_import
from contacts.imports.tasks import resume_imports
from contacts.models import Activity, Contact
from tests.factories import ListFactory
from tests.imports_helpers import do_import

CSV = "email\n" + "".join(f"p{n}@example.com\n" for n in range(200))


def uploaded(email_list, content=CSV) -> ListImport:
    from django.core.files.base import ContentFile

    list_import = ListImport(list=email_list, file_name="x.csv")
    list_import.file.save("x.csv", ContentFile(content.encode()), save=True)
    return list_import


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_import_process_it_once():
    list_import = uploaded(ListFactory())
    start = threading.Barrier(2)
    errors = []

    def work():
        try:
            start.wait()
            run_import(list_import.pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    list_import.refresh_from_db()
    assert list_import.status == ImportStatus.PROCESSING_COMPLETED
    assert list_import.subscribed_count == 200
    assert Contact.objects.count() == 200
    assert ImportRowResult.objects.count() == 200
    assert Activity.objects.count() == 200


@pytest.mark.django_db
def test_an_import_held_by_a_live_worker_is_left_alone_and_a_dead_ones_is_taken_over():
    list_import = uploaded(ListFactory())
    ListImport.objects.filter(pk=list_import.pk).update(
        status=ImportStatus.PROCESSING_DATA,
        claim_token="someone-else",
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    assert run_import(list_import.pk).status == ImportStatus.PROCESSING_DATA
    assert not Contact.objects.exists()

    ListImport.objects.filter(pk=list_import.pk).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    done = run_import(list_import.pk)
    assert done.status == ImportStatus.PROCESSING_COMPLETED
    assert done.subscribed_count == 200
    assert run_import(list_import.pk).subscribed_count == 200  # a finished import is not run again
    assert Contact.objects.count() == 200


@pytest.mark.django_db
def test_a_failure_midway_writes_nothing_and_marks_the_import_failed():
    def broken(sender, activities, **kwargs):
        raise RuntimeError("the outbox is full")

    list_import = uploaded(ListFactory())
    activities_recorded.connect(broken)
    try:
        with pytest.raises(RuntimeError):
            run_import(list_import.pk)
    finally:
        activities_recorded.disconnect(broken)
    list_import.refresh_from_db()
    assert list_import.status == ImportStatus.PROCESSING_FAILED
    assert "wrote nothing: the outbox is full" in list_import.error
    assert not Contact.objects.exists()
    assert not ImportRowResult.objects.exists()


@pytest.mark.django_db
def test_the_sweep_queues_forgotten_and_abandoned_imports_once_each():
    email_list = ListFactory()
    forgotten = uploaded(email_list)
    abandoned = uploaded(email_list)
    fresh = uploaded(email_list)
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    ListImport.objects.filter(pk=forgotten.pk).update(created_at=an_hour_ago)
    ListImport.objects.filter(pk=abandoned.pk).update(
        status=ImportStatus.PROCESSING_DATA, lease_expires_at=an_hour_ago
    )
    assert fresh.status == ImportStatus.DATA_UPLOADED
    assert resume_imports() == 2
    assert OrmQ.objects.count() == 2


@pytest.mark.django_db
def test_the_command_imports_and_prints_the_summary_as_json(tmp_path, capsys):
    email_list = ListFactory()
    path = tmp_path / "people.csv"
    path.write_text("Email,Shoe\nA@example.com,9\nbad,1\n")
    call_command("import_contacts", str(path), "--list", str(email_list.pk), "--json")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary["processedCount"] == 2
    assert summary["subscribedCount"] == 1
    assert summary["invalidEmailCount"] == 1
    assert set(summary) >= {
        "processedCount",
        "subscribedCount",
        "alreadySubscribedCount",
        "previouslyUnsubscribedCount",
        "unsubscribedCount",
        "alreadyUnsubscribedCount",
        "invalidEmailCount",
        "bannedCount",
        "suppressedCount",
        "skippedCount",
    }


@pytest.mark.django_db
def test_the_command_fails_clearly_on_a_bad_file_or_options(tmp_path):
    email_list = ListFactory()
    path = tmp_path / "people.csv"
    path.write_text("name\nAda\n")
    with pytest.raises(CommandError, match="No email column"):
        call_command("import_contacts", str(path), "--list", str(email_list.pk))
    with pytest.raises(CommandError, match="There is no list 999999"):
        call_command("import_contacts", str(path), "--list", "999999")
    with pytest.raises(CommandError, match="--map: Line 1: 'oops' is not COLUMN=FIELD"):
        call_command("import_contacts", str(path), "--list", str(email_list.pk), "--map", "oops")
    with pytest.raises(CommandError, match="is not a file"):
        call_command("import_contacts", str(tmp_path / "missing.csv"), "--list", str(email_list.pk))
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_file_of_many_chunks_is_imported_whole(tmp_path):
    # Rows are staged and applied a chunk at a time; none is lost between chunks.
    email_list = ListFactory()
    content = "email\n" + "".join(f"m{n}@example.com\n" for n in range(12_000))
    done = do_import(email_list, content, engine="portable")
    assert done.subscribed_count == 12_000
    assert ImportRowResult.objects.filter(list_import=done).count() == 12_000


@pytest.mark.django_db
def test_an_import_whose_file_is_gone_fails_clearly():
    list_import = uploaded(ListFactory())
    list_import.file.storage.delete(list_import.file.name)
    done = run_import(list_import.pk)
    assert done.status == ImportStatus.PROCESSING_FAILED
    assert "is gone from MEDIA_ROOT; upload it again" in done.error
