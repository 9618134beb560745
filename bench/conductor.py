"""Throughput of the Conductor's workers against the raw database.

    .venv/bin/python bench/conductor.py [--contacts 100000] [--workers 2] [--profile]
                                        [--no-scaling]

What it measures, on a throwaway PostgreSQL cluster (or DATABASE_URL when it
is PostgreSQL):

1. Set-up: a list with four profile fields (Numeric Group and Points, Date
   Entered, Text Code) and two events, and a published conversation triggered
   by one of them, of eight steps, none a message::

       0 Action SetValue Points=1
       1 Action SplitTest Group, weights [1, 1]
       2 Go To step 6 when Group Equals 2
       3 Action SetDate Entered, +0 days       (group 1 only)
       4 Action FireEvent "Bench done"         (group 1 only)
       5 Terminate                             (group 1 only)
       6 Action SetValue Code="B"              (group 2 only)
       7 Terminate                             (group 2 only)

   so a contact passes 6 steps (group 1) or 5 (group 2).
2. ``enroll_seconds``: N new contacts (bulk-created, not timed) entered as the
   trigger enters them: ``conductor.engine.entry.enroll`` in batches of
   10,000, one transaction each.
3. ``seconds``: W ``manage.py run_conductor --once --batch 1000`` processes
   started together, until the last exits (their start-up, about a second of
   imports each, included; it is printed on its own). Then the checks: every
   enrollment Finished, one StepRun per step passed (``step_runs`` equals
   what each contact's group implies), no (enrollment, visit) twice
   (``duplicates``, must be 0), the profile values written.
4. ``baseline_seconds``: the same writes on a fresh copy of N entered
   contacts, done by the database alone, set-based, one transaction per
   step: the step-run log as ``INSERT … SELECT`` from the enrollments at the
   step, each profile write as one ``UPDATE contacts_contact SET profile =
   jsonb_set(…)`` with its ``contacts_activity`` rows (old and new value)
   from the same CTE, the split with ``random()``, the Go To as an UPDATE
   joined to the contacts matching its criteria, the event as one
   ``INSERT … SELECT``, and the moves as one UPDATE per step. No claims,
   no row locks, no hooks, no Python per contact: a floor, not a rival
   design.
5. ``one_worker_seconds`` (with W > 1, unless ``--no-scaling``): N more
   contacts entered, then one worker alone; ``scaling`` = one worker's
   seconds / W workers' seconds (W at best; PostgreSQL shares the cores),
   ``one_worker_ratio`` its ratio to the same baseline.

How to read the last line (one JSON object): ``steps_per_s`` is step visits
per second of wall time with W workers, start-up included; ``ratio`` =
``seconds / baseline_seconds``, i.e. how many times longer the engine takes
than the database needs for the same rows. Targets (issue): steps_per_s ≥
25,000 and ratio ≤ 4 with 2 workers. The workers, PostgreSQL and this script
share the machine's cores; ``load_before`` is the 1-minute load average
before the run (above the core count, other work was queueing).

Figures on this 2-core machine: at commit f92a799 (a transaction per step
group, enrollments written after every step): 100,000 contacts, 550,111 step
runs in 175.8 s, 3,129 steps/s, baseline 41.3 s, ratio 4.26. Since a claim
runs in one transaction, writing each enrollment once and the step-run log
with COPY (commit 52bdb3e and after): 100,000 contacts, 549,777 step runs in
70.6 s, 7,785 steps/s, baseline 43.7 s, ratio 1.62, enroll 20.7 s (load 1.3
before). The baseline itself passes
about 12,500 step visits/s here, so 25,000 steps/s is beyond this machine.
On 2026-12-08, with the step-run log written as one INSERT … SELECT of
(enrollment, visit, group) and the workers' start-up frozen out of the
garbage collector: 43.1 to 50.3 s, ratio 0.99 to 1.25, 2 workers 2.03 to
2.26 times one (the README has the three runs and those before).

``--profile`` then runs ``run_due()`` in this process over 10,000 more
contacts twice: once counting and timing every query by step, once under
cProfile; both reports go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from _setup import ROOT, fresh_database, start_django

if TYPE_CHECKING:  # _conductor imports models: only after start_django
    from _conductor import BenchList, Flow

WORKER_BATCH = 1_000
PROFILE_CONTACTS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="profile run_due() in-process")
    parser.add_argument(
        "--no-scaling",
        dest="scaling",
        action="store_false",
        help="skip the one-worker run that gives the 1 -> W scaling",
    )
    args = parser.parse_args()
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/conductor.py measures PostgreSQL; DATABASE_URL is not.")
        figures, problems = measure(url, args)
        print(json.dumps(figures))
    if problems:
        raise SystemExit("checks failed: " + "; ".join(problems))


def measure(url: str, args: argparse.Namespace) -> tuple[dict[str, object], list[str]]:
    from _conductor import load_average, mail_server, make_list, worker_env

    load_before = load_average()
    bench = make_list()
    flow = publish_bench_flow(bench)
    with mail_server() as email_url:
        env = worker_env(url, email_url)
        figures, problems = run(env, bench, flow, args.contacts, args.workers, args.scaling)
        if args.profile:
            from _conductor_profile import profile

            profile(bench, flow, PROFILE_CONTACTS, WORKER_BATCH)
    return {**figures, "load_before": load_before}, problems


def run(
    env: dict[str, str], bench: BenchList, flow: Flow, count: int, workers: int, scale: bool
) -> tuple[dict[str, object], list[str]]:
    from _conductor import analyze, create_contacts, enter_contacts, load_average, run_workers

    start_seconds = idle_worker_seconds(env)
    log(f"one idle run_conductor --once: {start_seconds:.2f} s (start-up and an empty claim)")

    contacts = create_contacts(bench, "engine", count)
    started = time.perf_counter()
    enter_contacts(bench, flow, contacts)
    enroll_seconds = time.perf_counter() - started
    analyze()
    log(f"entered {count} contacts in {enroll_seconds:.2f} s; load {load_average():.2f}")

    done = run_workers(env, workers, WORKER_BATCH)
    seconds = done.seconds
    engine = check(bench, flow, "engine%")
    log(f"engine: {engine} in {seconds:.2f} s")

    enter_contacts(bench, flow, create_contacts(bench, "baseline", count))
    analyze()
    baseline_seconds = run_baseline(bench, flow)
    baseline = check(bench, flow, "baseline%")
    log(f"baseline: {baseline} in {baseline_seconds:.2f} s; load {load_average():.2f}")

    problems = problems_of("engine", engine, count) + problems_of("baseline", baseline, count)
    scaling: dict[str, object] = {}
    if workers > 1 and scale:
        # The same work on one worker, on fresh contacts: how far W workers
        # beat one on the same cores (the database shares them too).
        enter_contacts(bench, flow, create_contacts(bench, "single", count))
        analyze()
        alone = run_workers(env, 1, WORKER_BATCH)
        single = check(bench, flow, "single%")
        log(f"one worker: {single} in {alone.seconds:.2f} s")
        problems += problems_of("one worker", single, count)
        scaling = {
            "one_worker_seconds": round(alone.seconds, 2),
            "one_worker_ratio": round(alone.seconds / baseline_seconds, 2),
            "scaling": round(alone.seconds / seconds, 2),
        }
    figures = {
        "bench": "conductor",
        "contacts": count,
        "workers": workers,
        "step_runs": engine["step_runs"],
        "seconds": round(seconds, 2),
        "steps_per_s": round(engine["step_runs"] / seconds),
        "baseline_seconds": round(baseline_seconds, 2),
        "ratio": round(seconds / baseline_seconds, 2),
        "duplicates": engine["duplicates"],
        "enroll_seconds": round(enroll_seconds, 2),
        # Each worker's part of the step visits: the claims spread the work.
        "worker_step_shares": done.shares(done.steps),
        **scaling,
    }
    return figures, problems


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- The conversation -----------------------------------------------------------


def publish_bench_flow(bench: BenchList) -> Flow:
    from _conductor import publish_flow

    from conductor.models import StepKind

    field = {name: f.pk for name, f in bench.fields.items()}
    group_is_2 = {
        "segmentationFieldId": field["Group"],
        "compareType": "Equals",
        "values": [{"value": "2"}],
    }
    return publish_flow(
        bench,
        [
            (StepKind.ACTION, {"action": "SetValue", "field": field["Points"], "value": 1}),
            (StepKind.ACTION, {"action": "SplitTest", "field": field["Group"], "weights": [1, 1]}),
            (StepKind.GO_TO, {"target": 6, "criteria": group_is_2}),
            (StepKind.ACTION, {"action": "SetDate", "field": field["Entered"], "offset_days": 0}),
            (StepKind.ACTION, {"action": "FireEvent", "event": bench.done.pk}),
            (StepKind.TERMINATE, {}),
            (StepKind.ACTION, {"action": "SetValue", "field": field["Code"], "value": "B"}),
            (StepKind.TERMINATE, {}),
        ],
    )


# --- The workers ------------------------------------------------------------------


def idle_worker_seconds(env: dict[str, str]) -> float:
    """One worker with nothing due: what start-up costs each worker."""
    from _conductor import worker_command

    started = time.perf_counter()
    done = subprocess.run(worker_command(WORKER_BATCH), cwd=ROOT, env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"run_conductor failed:\n{done.stdout.decode()}{done.stderr.decode()}")
    return time.perf_counter() - started


# --- Checks ---------------------------------------------------------------------------

CHECK_SQL = """
WITH runs AS (
    SELECT enrollment_id, count(*) AS n, count(DISTINCT visit) AS visits
    FROM conductor_steprun GROUP BY enrollment_id
), entered AS (
    SELECT e.state, coalesce(r.n, 0) AS n, coalesce(r.visits, 0) AS visits,
           c.profile ->> %(group)s AS grp, c.profile ->> %(points)s AS points,
           c.profile ->> %(entered)s AS entered, c.profile ->> %(code)s AS code,
           CASE WHEN c.profile ->> %(group)s = '2' THEN 5 ELSE 6 END AS expected
    FROM conductor_enrollment e
    JOIN contacts_contact c ON c.id = e.contact_id
    LEFT JOIN runs r ON r.enrollment_id = e.id
    WHERE e.conversation_id = %(conversation)s AND c.email LIKE %(prefix)s
)
SELECT count(*),
       count(*) FILTER (WHERE state <> 'Finished'),
       coalesce(sum(n), 0),
       coalesce(sum(n - visits), 0),
       coalesce(sum(expected), 0),
       count(*) FILTER (WHERE n <> expected),
       count(*) FILTER (WHERE grp = '2'),
       count(*) FILTER (
           WHERE grp NOT IN ('1', '2') OR points IS DISTINCT FROM '1'
              OR (grp = '2' AND code IS DISTINCT FROM 'B')
              OR (grp = '1' AND (entered IS NULL OR code IS NOT NULL))
       )
FROM entered
"""
CHECK_NAMES = [
    "enrollments",
    "unfinished",
    "step_runs",
    "duplicates",
    "expected_step_runs",
    "wrong_paths",
    "group_2",
    "wrong_profiles",
]


def check(bench: BenchList, flow: Flow, prefix: str) -> dict[str, int]:
    """What the run left for the contacts whose address starts with ``prefix``."""
    from django.db import connection

    params = {name.lower(): bench.key(name) for name in bench.fields}
    params.update(conversation=flow.conversation.pk, prefix=prefix)
    with connection.cursor() as cursor:
        cursor.execute(CHECK_SQL, params)
        row = cursor.fetchone()
    return dict(zip(CHECK_NAMES, (int(value) for value in row), strict=True))


def problems_of(name: str, figures: dict[str, int], count: int) -> list[str]:
    problems = []
    if figures["enrollments"] != count:
        problems.append(f"{name}: {figures['enrollments']} enrollments, not {count}")
    for key in ("unfinished", "duplicates", "wrong_paths", "wrong_profiles"):
        if figures[key]:
            problems.append(f"{name}: {key} = {figures[key]}")
    if figures["step_runs"] != figures["expected_step_runs"]:
        problems.append(f"{name}: {figures['step_runs']} step runs, not the expected")
    return problems


# --- Baseline: the same writes, set-based SQL --------------------------------------

AT_STEP = "e.conversation_id = %(conversation)s AND e.state = 'Active' AND e.step_id = %(step)s"
ENTER_SQL = """
UPDATE conductor_enrollment e
SET step_id = %(target)s, thread_id = %(thread)s, step_entered_at = %(now)s, due_at = %(now)s
WHERE e.conversation_id = %(conversation)s AND e.state = 'Active' AND e.step_id IS NULL
"""
LOG_SQL = f"""
INSERT INTO conductor_steprun (enrollment_id, visit, step_id, outcome, ran_at, details)
SELECT e.id, e.visit, %(step)s, %(outcome)s, %(now)s, '{{}}'::jsonb
FROM conductor_enrollment e WHERE {AT_STEP}
"""
MOVE_SQL = f"""
UPDATE conductor_enrollment e
SET step_id = %(target)s, thread_id = %(thread)s, visit = e.visit + 1,
    step_entered_at = %(now)s, due_at = %(now)s
WHERE {AT_STEP}
"""
JUMP_SQL = (
    MOVE_SQL
    + """ AND EXISTS (
    SELECT 1 FROM contacts_contact c WHERE c.id = e.contact_id
    AND (CASE WHEN c.profile ->> %(key)s ~ %(pattern)s
              THEN (c.profile ->> %(key)s)::numeric END) = %(value)s::numeric)
"""
)
FINISH_SQL = f"""
UPDATE conductor_enrollment e SET state = 'Finished', finished_at = %(now)s, due_at = NULL
WHERE {AT_STEP}
"""
# One statement: the new values (drawn once per row), the profiles written,
# and an activity each with the old and the new value, as update_profiles
# records them.
PROFILE_SQL = f"""
WITH drawn AS MATERIALIZED (
    SELECT c.id, c.list_id, c.email, c.profile -> %(key)s AS old, e.step_entered_at,
           random() AS r
    FROM conductor_enrollment e JOIN contacts_contact c ON c.id = e.contact_id
    WHERE {AT_STEP}
), picked AS MATERIALIZED (
    SELECT id, list_id, email, old, {{value}} AS new FROM drawn
), written AS (
    UPDATE contacts_contact c
    SET profile = jsonb_set(c.profile, ARRAY[%(key)s::text], to_jsonb(p.new)),
        updated_at = %(now)s
    FROM picked p WHERE c.id = p.id
)
INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)
SELECT id, list_id, email, 'profile_updated', %(now)s,
       jsonb_build_object('update_type', 'Overwrite', 'changes', jsonb_build_object(
           %(key)s::text, jsonb_build_object('old', old, 'new', to_jsonb(new))))
FROM picked
"""
EVENT_SQL = f"""
INSERT INTO contacts_activity (contact_id, list_id, email, kind, occurred_at, details)
SELECT c.id, c.list_id, c.email, 'event_fired', %(now)s,
       jsonb_build_object('event_id', %(event)s::int, 'event_name', %(event_name)s::text,
                          'data', '{{}}'::jsonb)
FROM conductor_enrollment e JOIN contacts_contact c ON c.id = e.contact_id
WHERE {AT_STEP}
"""


def run_baseline(bench: BenchList, flow: Flow) -> float:
    """Every step's writes as set-based SQL, one transaction per step, steps in
    thread order (this flow only jumps forward, so one pass moves everyone)."""
    from django.db import connection, transaction
    from django.utils import timezone

    base = {"conversation": flow.conversation.pk, "now": timezone.now()}
    first = flow.steps[0]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ENTER_SQL, {**base, "target": first.pk, "thread": first.thread_id})
    entered = time.perf_counter()
    per_step = [f"entering {entered - started:.2f}"]
    for index, step in enumerate(flow.steps):
        params = {**base, "step": step.pk}
        step_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, extra in step_statements(bench, flow, index):
                cursor.execute(sql, {**params, **extra})
        per_step.append(f"{index} {time.perf_counter() - step_started:.2f}")
    seconds = time.perf_counter() - started
    log(f"baseline seconds by step: {', '.join(per_step)}")
    return seconds


def step_statements(bench: BenchList, flow: Flow, index: int) -> list[tuple[str, dict]]:
    from conductor.models import StepKind
    from lists.field_types import NUMERIC_PATTERN

    step = flow.steps[index]
    if step.kind == StepKind.TERMINATE:
        return [(LOG_SQL, {"outcome": "Terminated"}), (FINISH_SQL, {})]
    statements = [(LOG_SQL, {"outcome": "Passed"})]
    if step.kind == StepKind.ACTION:
        statements.append(action_statement(bench, step))
    elif step.kind == StepKind.GO_TO:
        target = next(s for s in flow.steps if str(s.key) == step.settings["target"])
        condition = step.settings["criteria"]  # one Numeric Equals, as built above
        jump = {
            "target": target.pk,
            "thread": target.thread_id,
            "key": str(condition["segmentationFieldId"]),
            "pattern": NUMERIC_PATTERN,
            "value": condition["values"][0]["value"],
        }
        statements.append((JUMP_SQL, jump))
    following = flow.steps[index + 1]
    return [*statements, (MOVE_SQL, {"target": following.pk, "thread": following.thread_id})]


def action_statement(bench: BenchList, step) -> tuple[str, dict]:
    from lists.field_types import clean_value

    settings = step.settings
    if settings["action"] == "FireEvent":
        return EVENT_SQL, {"event": bench.done.pk, "event_name": bench.done.name}
    field = next(f for f in bench.fields.values() if f.pk == settings["field"])
    params = {"key": field.key}
    if settings["action"] == "SetValue":
        value = "%(value)s::text"
        params["value"] = clean_value(field, settings["value"])
    elif settings["action"] == "SplitTest":
        value = split_sql(settings["weights"])
    elif settings["action"] == "SetDate":
        value = (
            "to_char((step_entered_at AT TIME ZONE %(zone)s)::date + %(offset)s::int, 'YYYY-MM-DD')"
        )
        params.update(zone=bench.email_list.time_zone, offset=int(settings["offset_days"]))
    else:
        raise ValueError(f"no baseline for action {settings['action']}")
    return PROFILE_SQL.format(value=value), params


def split_sql(weights: list[int]) -> str:
    """Group 1..N by weight, from the row's one draw ``r`` of ``random()``."""
    total, bound, cases = sum(weights), 0, []
    for group, weight in enumerate(weights[:-1], start=1):
        bound += weight
        cases.append(f"WHEN r < {bound / total!r} THEN '{group}'")
    return f"CASE {' '.join(cases)} ELSE '{len(weights)}' END"


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
