"""The platform's own Prometheus gauges, counted when Prometheus scrapes.

Each is one ``COUNT`` read through an index (the comment on each says
which), so a scrape every 15 seconds costs the database little even with
millions of rows; ``tests/test_metrics.py`` checks the plans on PostgreSQL.
Not counted, for want of an index: deliveries that are Uncertain or Skipped
(only the unsent ones have one, ``delivery_unsent``), and sends by
``Delivery.sent_at``: the "sent" activities stand in for those. The
activity log's DEFAULT partition is read with a LIMIT instead: it is empty
while the monthly partitions are made ahead.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from conductor.models import Enrollment, EnrollmentState
from contacts.imports.models import ImportStatus, ListImport
from contacts.models import Activity, ActivityKind
from contacts.partitions import DEFAULT_ROWS_CAP, default_partition_rows
from emails.models import Delivery, DeliveryStatus
from integrations.models import MessageStatus, SegmentMessage
from lists.models import List

#: The window of ``retailmail_emails_sent_last_minute``.
SENT_WINDOW = datetime.timedelta(seconds=60)


def conversation_contacts(now: datetime.datetime) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "retailmail_conversation_contacts",
        "Contacts in conversations: due for their next step now (a backlog when it grows), "
        "or held at a step by an error (staff must act).",
        labels=["state"],
    )
    # The partial index enrollment_due (Active, by due_at): its entries up to now.
    due = Enrollment.objects.filter(state=EnrollmentState.ACTIVE, due_at__lte=now).count()
    gauge.add_metric(["due"], due)
    # An index-only scan of enrollment_step_state (step, state) for the Held ones.
    gauge.add_metric(["held"], Enrollment.objects.filter(state=EnrollmentState.HELD).count())
    return gauge


def deliveries() -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "retailmail_deliveries",
        "Emails not sent yet: pending (waiting for a worker), sending (claimed by one), "
        "handed (with the mail server, its answer not yet recorded).",
        labels=["status"],
    )
    # Each through the partial index delivery_unsent (status, created_at).
    for status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.HANDED):
        gauge.add_metric([status.lower()], Delivery.objects.filter(status=status).count())
    return gauge


def segment_messages() -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "retailmail_segment_messages",
        "Messages for Segment: pending (the outbox's backlog) and dead (refused for good).",
        labels=["status"],
    )
    # Through the partial indexes segment_message_pending and segment_message_dead.
    for status in (MessageStatus.PENDING, MessageStatus.DEAD):
        gauge.add_metric([status], SegmentMessage.objects.filter(status=status).count())
    return gauge


def imports() -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "retailmail_imports",
        "List imports not finished: waiting for a worker, or running.",
        labels=["status"],
    )
    # Through the partial index import_in_progress.
    for label, status in (
        ("waiting", ImportStatus.DATA_UPLOADED),
        ("running", ImportStatus.PROCESSING_DATA),
    ):
        gauge.add_metric([label], ListImport.objects.filter(status=status).count())
    return gauge


def emails_sent_last_minute(now: datetime.datetime) -> GaugeMetricFamily:
    # Deliveries have no index on sent_at; each sent email's "sent" activity
    # (occurred_at is its sent_at) is read through activity_list_kind_time,
    # one range per list. An email whose activity a sweep records late (its
    # worker died) is not counted.
    sent = Activity.objects.filter(
        list__in=List.objects.all(), kind=ActivityKind.EMAIL_SENT, occurred_at__gt=now - SENT_WINDOW
    ).count()
    return GaugeMetricFamily(
        "retailmail_emails_sent_last_minute",
        "Emails sent in the 60 seconds before the scrape.",
        value=sent,
    )


def activity_default_partition_rows() -> GaugeMetricFamily:
    # A LIMITed read of the DEFAULT partition, which holds nothing while the
    # partitions are made ahead (0 on SQLite, which partitions nothing).
    return GaugeMetricFamily(
        "retailmail_activity_default_partition_rows",
        "Activities outside the monthly partitions (up to "
        f"{DEFAULT_ROWS_CAP:,}): more than none, the activity-partitions task "
        "is not running (staff must act).",
        value=default_partition_rows(),
    )


class PlatformCollector(Collector):
    """The gauges above, each scrape; registered only in the registry that
    ``/metrics`` builds for its answer, so nothing else counts them."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield conversation_contacts(now)
        yield deliveries()
        yield segment_messages()
        yield imports()
        yield emails_sent_last_minute(now)
        yield activity_default_partition_rows()
