"""A large entry spreads over the free workers: a queued run that finds more
than one claim's worth due hands work to one more worker before it starts,
and that run does the same, so an import's contacts are stepped by every
worker that is free, not by the one its task reached."""

from __future__ import annotations

import pytest
from django_q.models import OrmQ

from conductor.engine.sweep import sweep
from conductor.engine.tasks import run_due, run_due_spreading
from conductor.models import Enrollment, EnrollmentState
from tests.factories import ListFactory
from tests.test_conductor_race import contacts_due

pytestmark = pytest.mark.django_db


def queued_runs() -> list[dict]:
    return [q.task for q in OrmQ.objects.all() if q.task["name"] == "conductor-run"]


def test_a_run_finding_more_than_one_claim_due_queues_one_more_run(shop):
    contacts_due(shop, 25)
    assert run_due(batch=10, spread=True) == 2 * 25  # each contact's Message and Terminate
    (task,) = queued_runs()  # one more, however many claims this run went on to take
    assert task["func"] is run_due_spreading
    assert not Enrollment.objects.exclude(state=EnrollmentState.FINISHED).exists()


def test_a_run_whose_first_claim_takes_everything_queues_nothing(shop):
    contacts_due(shop, 5)
    run_due(batch=10, spread=True)
    assert queued_runs() == []


def test_a_worker_loop_does_not_spread_and_the_sweep_does(shop):
    contacts_due(shop, 25)
    run_due(batch=10)  # run_conductor's loop: its own claims, one after another
    assert queued_runs() == []
    contacts_due(ListFactory(name="Other"), 1_001)  # more than the sweep's claim
    sweep()
    assert len(queued_runs()) == 1


def test_run_conductor_says_what_it_did_for_the_benchmarks_to_share_out(shop, smtp_server):
    from io import StringIO

    from django.core.management import call_command

    contacts_due(shop, 3)
    out = StringIO()
    call_command("run_conductor", "--once", stdout=out)
    assert out.getvalue().strip() == "6 step visits run, 3 emails sent."
