"""Contacts waiting for their emails, settled by sweeps racing on many
workers: each is let go or held exactly once."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conductor.engine.claims import claim_due
from conductor.engine.email_outcomes import STRANDED_AFTER, settle_stranded
from conductor.engine.runner import run_claimed
from conductor.models import Enrollment, EnrollmentState, StepKind, StepOutcome, StepRun
from contacts.services import subscribe_contacts
from emails.models import Delivery, DeliveryStatus
from tests.test_concurrency import race
from tests.tracking_helpers import publish_mailing

pytestmark = pytest.mark.django_db(transaction=True)


def test_sweeps_racing_settle_each_waiting_contact_once(shop):
    publish_mailing(shop)
    emails = [f"p{i}@example.com" for i in range(60)]
    subscribe_contacts(email_list=shop, emails=emails, method="API")
    token = claim_due(100)
    assert token is not None
    run_claimed(token)
    assert Enrollment.objects.filter(state=EnrollmentState.SENDING).count() == 60
    # Their emails ended without word: the even ones sent, the odd ones refused.
    sent = [e for i, e in enumerate(emails) if i % 2 == 0]
    Delivery.objects.filter(contact__email__in=sent).update(status=DeliveryStatus.SENT)
    Delivery.objects.exclude(contact__email__in=sent).update(
        status=DeliveryStatus.SKIPPED, error="Not sent: the mail server refused it: 550 Gone"
    )
    Enrollment.objects.update(step_entered_at=timezone.now() - STRANDED_AFTER * 2)

    settled: list[int] = []
    assert race(3, lambda n: settled.append(settle_stranded(limit=25))) == []
    while more := settle_stranded(limit=25):
        settled.append(more)

    assert sum(settled) == 60
    states = dict(Enrollment.objects.values_list("contact__email", "state"))
    assert {states[e] for e in sent} == {EnrollmentState.ACTIVE}
    assert {states[e] for e in emails if e not in sent} == {EnrollmentState.HELD}
    held = Enrollment.objects.filter(state=EnrollmentState.HELD)
    assert set(held.values_list("step__kind", flat=True)) == {StepKind.MESSAGE}
    skipped = StepRun.objects.filter(outcome=StepOutcome.SKIPPED)
    assert skipped.count() == 30
    assert {r.details["reason"] for r in skipped} == {
        "Not sent: the mail server refused it: 550 Gone"
    }
