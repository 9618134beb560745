"""The step runs of one claim, written together at its end.

A claim of a thousand contacts passing six steps logs six thousand runs, but
they share most of their values: the runs of one group (one step, one round)
have the same step, time and, nearly always, outcome and details. So the log
keeps each run as its enrollment, visit and group, and PostgreSQL builds the
rows in one ``INSERT … SELECT`` from a JSON document of those triples joined
to the few groups, as the raw-SQL baseline of ``bench/conductor.py`` does.
Dumping every value of every row through COPY cost the worker four times the
client time.
"""

from __future__ import annotations

import datetime
import json

from django.db import connection

from conductor.engine.batch import StepBatch
from conductor.models import Enrollment, StepOutcome, StepRun
from core.bulk import update_rows

#: (step id, outcome, time, details as JSON): what a group's runs share.
GroupKey = tuple[int, str, datetime.datetime, str]


class StepLog:
    """The runs of one claim. Runs a unit had to save early (rows refer to
    them: a delivery, a coupon) are updated or deleted instead."""

    def __init__(self) -> None:
        self._groups: dict[GroupKey, int] = {}
        self._rows: list[tuple[int, int, int]] = []  # (enrollment id, visit, group)
        self._changed: list[StepRun] = []
        self._dropped: list[int] = []

    def record(
        self,
        batch: StepBatch,
        enrollment: Enrollment,
        outcome: str = StepOutcome.PASSED,
        details: dict[str, object] | None = None,
    ) -> None:
        """Log the enrollment's run of the batch's step at its current visit
        (before it enters the next step)."""
        if batch.saved:
            if outcome != StepOutcome.PASSED or details:
                run = batch.runs[enrollment.pk]
                run.outcome, run.details = outcome, details or {}
                self._changed.append(run)
            return
        key = (batch.step.pk, str(outcome), batch.now, json.dumps(details) if details else "{}")
        group = self._groups.setdefault(key, len(self._groups))
        self._rows.append((enrollment.pk, enrollment.visit, group))

    def drop(self, batch: StepBatch, enrollment: Enrollment) -> None:
        """No run for this visit: it runs again when the contact is resumed."""
        if batch.saved:
            self._dropped.append(batch.runs[enrollment.pk].pk)

    def write(self) -> None:
        if self._rows:
            if connection.vendor == "postgresql":
                self._insert_joined()
            else:
                self._bulk_create()
        update_rows(self._changed, ["outcome", "details"])
        if self._dropped:
            StepRun.objects.filter(pk__in=self._dropped).delete()

    def _insert_joined(self) -> None:
        groups = [
            {
                "n": n,
                "step": step,
                "outcome": outcome,
                "at": at.isoformat(),
                "details": json.loads(details),
            }
            for (step, outcome, at, details), n in self._groups.items()
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(StepRun._meta.db_table)}"
                " (enrollment_id, visit, step_id, outcome, ran_at, details)"
                " SELECT (r->>0)::bigint, (r->>1)::integer, g.step, g.outcome, g.at, g.details"
                " FROM jsonb_array_elements(%s::jsonb) AS r"
                " JOIN jsonb_to_recordset(%s::jsonb)"
                "  AS g(n integer, step bigint, outcome text, at timestamptz, details jsonb)"
                "  ON g.n = (r->>2)::integer",
                [json.dumps(self._rows, separators=(",", ":")), json.dumps(groups)],
            )

    def _bulk_create(self) -> None:
        groups = {n: key for key, n in self._groups.items()}
        StepRun.objects.bulk_create(
            [
                StepRun(
                    enrollment_id=enrollment_id,
                    visit=visit,
                    step_id=groups[group][0],
                    outcome=groups[group][1],
                    ran_at=groups[group][2],
                    details=json.loads(groups[group][3]),
                )
                for enrollment_id, visit, group in self._rows
            ]
        )
