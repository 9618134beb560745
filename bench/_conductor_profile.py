"""Where ``run_due()``'s time goes (bench/conductor.py ``--profile``).

Two in-process runs of ``run_due()`` over freshly entered contacts of the
benchmark's conversation, reported on stderr:

1. Every query counted and timed, by the step whose group ran it (the
   claim, the round's due query and the release are "outside steps"), and
   the wall time of each step's groups: the difference is Python.
2. The same under cProfile: the functions by own time and by cumulative time.

Step labels come from wrapping ``conductor.engine.runner._run_group`` in this
process for the duration of run 1; the engine itself is not changed.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _conductor import BenchList, Flow

OUTSIDE = "outside steps (claim, due query, release, deliveries)"


def profile(bench: BenchList, flow: Flow, count: int, batch: int) -> None:
    from _conductor import analyze, create_contacts, enter_contacts

    from conductor.engine.tasks import run_due

    enter_contacts(bench, flow, create_contacts(bench, "profile-queries", count))
    analyze()
    queries = QueryLog(flow)
    with queries.recording():
        started = time.perf_counter()
        ran = run_due(batch=batch, budget=float("inf"))
        wall = time.perf_counter() - started
    queries.report(ran, wall)

    enter_contacts(bench, flow, create_contacts(bench, "profile-cprofile", count))
    analyze()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    ran = profiler.runcall(run_due, batch=batch, budget=float("inf"))
    wall = time.perf_counter() - started
    out(f"\n== cProfile: run_due() ran {ran} step visits in {wall:.2f} s (profiler on) ==")
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(30)
        out(trim_stats(stream.getvalue()))


def out(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def trim_stats(text: str) -> str:
    """pstats' table without its preamble, paths shortened to the project's."""
    start = text.find("   ncalls")
    text = text[start:] if start >= 0 else text
    return re.sub(r"/\S*?/(site-packages|lib/python3\.\d+|main)/", "", text)


class QueryLog:
    """Every query of one run: its step, its kind, its time."""

    def __init__(self, flow: Flow) -> None:
        self.labels = {step.pk: f"{n} {describe(step)}" for n, step in enumerate(flow.steps)}
        self.current = OUTSIDE
        self.queries: dict[str, Counter] = defaultdict(Counter)  # label → kind → count
        self.seconds: dict[str, Counter[str]] = defaultdict(Counter)  # label → kind → seconds
        self.walls: dict[str, float] = defaultdict(float)  # label → seconds in _run_group
        self.groups: Counter = Counter()  # label → _run_group calls

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        from django.db import connection

        from conductor.engine import runner

        original = runner._run_group
        runner._run_group = self.labelled(original)
        try:
            with connection.execute_wrapper(self.execute):
                yield
        finally:
            runner._run_group = original

    def labelled(self, run_group: Callable) -> Callable:
        def run(*args, **kwargs):  # (steps, step_id, ids, token)
            step_id = args[1] if len(args) > 1 else kwargs.get("step_id")
            self.current = self.labels.get(step_id, "entering (step None → first step)")
            started = time.perf_counter()
            try:
                return run_group(*args, **kwargs)
            finally:
                self.walls[self.current] += time.perf_counter() - started
                self.groups[self.current] += 1
                self.current = OUTSIDE

        return run

    def execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = classify(sql)
            self.queries[self.current][kind] += 1
            self.seconds[self.current][kind] += time.perf_counter() - started  # type: ignore[assignment]  # Counter sums floats too; typeshed counts ints

    def report(self, ran: int, wall: float) -> None:
        total_queries = sum(sum(c.values()) for c in self.queries.values())
        total_db = sum(sum(c.values()) for c in self.seconds.values())
        out(
            f"\n== run_due() in-process: {ran} step visits in {wall:.2f} s "
            f"({ran / wall:.0f}/s), {total_queries} queries, {total_db:.2f} s waiting on "
            f"PostgreSQL, {wall - total_db:.2f} s in Python =="
        )
        for label in sorted(self.queries, key=lambda name: (name == OUTSIDE, name)):
            self.report_label(label)

    def report_label(self, label: str) -> None:
        db = sum(self.seconds[label].values())
        count = sum(self.queries[label].values())
        if label == OUTSIDE:
            out(f"\n{label}: {count} queries, {db:.2f} s in the database")
        else:
            wall = self.walls[label]
            out(
                f"\n{label}: {self.groups[label]} groups, {wall:.2f} s, "
                f"{count} queries ({count / max(self.groups[label], 1):.1f} per group), "
                f"database {db:.2f} s, Python {wall - db:.2f} s"
            )
        for kind, seconds in self.seconds[label].most_common():
            out(f"    {self.queries[label][kind]:6d} x {kind:<60} {seconds:7.3f} s")


def describe(step) -> str:
    action = step.settings.get("action")
    return f"{step.kind} {action}" if action else step.kind


_TABLE = r'"?(\w+)"?'


def classify(sql: str) -> str:
    """A query's statement and main table, e.g. ``SELECT conductor_enrollment FOR UPDATE``."""
    text = " ".join(sql.split())
    head = text.split(" ", 1)[0].upper()
    if head in {"SAVEPOINT", "RELEASE", "ROLLBACK"}:
        return head
    if text.startswith("WITH v("):  # core.bulk.update_rows
        found = re.search(r"\) UPDATE " + _TABLE, text)
        return f"UPDATE {found.group(1) if found else '?'} (VALUES join)"
    patterns = {
        "INSERT": r"^INSERT INTO " + _TABLE,
        "UPDATE": r"^UPDATE " + _TABLE,
        "DELETE": r"^DELETE FROM " + _TABLE,
        "SELECT": r"FROM " + _TABLE,
    }
    found = re.search(patterns.get(head, r"FROM " + _TABLE), text)
    table = found.group(1) if found else "?"
    if head == "UPDATE" and " CASE WHEN " in text:
        table += " (CASE per row)"
    lock = " FOR UPDATE" if "FOR UPDATE" in text else ""
    return f"{head} {table}{lock}"
