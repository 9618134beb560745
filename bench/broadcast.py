"""Broadcasts: one email to every contact of a list, messages per second end
to end, against the raw SMTP exchange in the same run.

    .venv/bin/python bench/broadcast.py [--contacts 100000] [--workers 2]

On a throwaway PostgreSQL cluster (or DATABASE_URL when it is PostgreSQL),
with a real SMTP server (aiosmtpd, in this process, counting each recipient
and when its message arrived):

1. ``seconds``: N subscribed contacts; a broadcast of a message with merge
   fields in the subject and body, an HTML body with two tracked links and a
   text body, scheduled to send now. W ``manage.py run_broadcasts --once``
   processes are started together; the time runs until the last has exited
   (their start-up, about a second each, included). By then the workers have
   started it, chosen its recipients in the database (``INSERT … SELECT``,
   20,000 contacts a statement), rendered, sent and marked every email, and
   marked the broadcast Sent. ``first_email_s``: from the workers' start to
   the first email's arrival. Checks: every address received exactly one
   message (``duplicates``, ``missing``), every delivery is Sent, the
   broadcast is Sent with N recipients.
2. ``baseline_seconds``: the raw SMTP exchange in the same run: W processes
   posting N copies of one of the rendered emails to the same server with
   plain ``smtplib`` (no database, no rendering; ``bench/send.py``'s).
   ``ratio`` = seconds / baseline_seconds.

Last line, one JSON object: ``{"bench": "broadcast", "messages": N,
"seconds": S, "messages_per_s": R, "first_email_s": F, "baseline_seconds": B,
"ratio": S/B, "duplicates": 0, "missing": 0, ...}``. Target (issue): ratio ≤ 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT, fresh_database, start_django

DONE = re.compile(r"(\d+) emails sent\.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ["REDIS_URL"] = ""
    with fresh_database("postgres") as url:
        start_django(url)
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("bench/broadcast.py measures PostgreSQL; DATABASE_URL is not.")
        figures, problems = measure(url, args)
        print(json.dumps(figures))
    if problems:
        raise SystemExit("checks failed: " + "; ".join(problems))


def measure(url: str, args: argparse.Namespace) -> tuple[dict[str, object], list[str]]:
    from _conductor import analyze, create_contacts, load_average, make_list, worker_env
    from send import HTML, TEXT, Inbox, check, smtp_baseline, smtp_server

    from broadcasts.models import Broadcast, BroadcastStatus
    from broadcasts.services import create_broadcast, schedule_broadcast
    from emails.models import Message

    load_before = load_average()
    bench = make_list("bench broadcast")
    message = Message.objects.create(
        list=bench.email_list,
        name="Bench sale",
        subject="Sale for {{ profile.code }}",
        html_body=HTML,
        text_body=TEXT,
        from_email="shop@example.com",
    )
    create_contacts(bench, "send", args.contacts)
    analyze()
    inbox = Inbox()
    with smtp_server(inbox) as email_url:
        env = worker_env(url, email_url)
        broadcast = create_broadcast(email_list=bench.email_list, name="Bench", message=message)
        schedule_broadcast(broadcast=broadcast)
        started = time.time()
        shares = run_workers(env, args.workers)
        seconds = time.time() - started
        with inbox.lock:
            first = min(min(times) for times in inbox.arrivals.values())
        duplicates, missing, unsent = check(inbox, "send", args.contacts)
        log(f"sent {args.contacts} in {seconds:.2f} s; load {load_average():.2f}")
        baseline_seconds = smtp_baseline(email_url, args.contacts, args.workers)
        log(f"raw SMTP baseline: {args.contacts} in {baseline_seconds:.2f} s")
    broadcast = Broadcast.objects.get(pk=broadcast.pk)
    problems = [
        f"{name} = {value}"
        for name, value in (("duplicates", duplicates), ("missing", missing), ("unsent", unsent))
        if value
    ]
    if broadcast.status != BroadcastStatus.SENT or broadcast.recipients != args.contacts:
        problems.append(f"broadcast {broadcast.status} with {broadcast.recipients} recipients")
    figures = {
        "bench": "broadcast",
        "messages": args.contacts,
        "workers": args.workers,
        "seconds": round(seconds, 2),
        "messages_per_s": round(args.contacts / seconds),
        "first_email_s": round(first - started, 2),
        "baseline_seconds": round(baseline_seconds, 2),
        "ratio": round(seconds / baseline_seconds, 2),
        "duplicates": duplicates,
        "missing": missing,
        "worker_email_shares": shares,
        "load_before": load_before,
    }
    return figures, problems


def run_workers(env: dict[str, str], count: int) -> list[float]:
    """Start ``count`` ``run_broadcasts --once`` workers at once; return each
    one's share of the emails once the last has exited."""
    with tempfile.TemporaryDirectory() as directory:
        logs = [Path(directory) / f"worker{n}.log" for n in range(count)]
        processes = []
        for path in logs:
            with open(path, "wb") as stream:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "manage.py", "run_broadcasts", "--once"],
                        cwd=ROOT,
                        env=env,
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        codes = [process.wait() for process in processes]
        sent = []
        for n, (code, path) in enumerate(zip(codes, logs, strict=True)):
            output = path.read_text(errors="replace").strip()
            log(f"worker {n} (exit {code}): {output[-2000:]}")
            if code != 0:
                raise SystemExit(f"worker {n} failed")
            found = DONE.search(output)
            sent.append(int(found.group(1)) if found else 0)
    total = sum(sent) or 1
    return [round(n / total, 2) for n in sent]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
