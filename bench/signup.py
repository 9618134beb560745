"""Throughput of a subscription point's hosted form under load, against the
API's contact post in the same run.

    .venv/bin/python bench/signup.py [--seconds 20] [--connections 16]

What it measures: ``POST /s/<key>/`` form-encoded, as a shop's embedded form
sends it (bench/signup_post.lua): each request a new address with four
profile values (text, number, a MM/DD/YYYY date, a checkbox) and a valid
"shown at" token made a minute earlier, so the fill-time check passes. Each
is a real signup: the rate-limit counters (per address and per point, rows
in the database, limits set high through the environment), the form, the
subscription, the point's event, the signup row. Served by the production
server, gunicorn with 2 sync workers, on a throwaway PostgreSQL cluster;
``wrk`` keeps ``--connections`` connections busy for ``--seconds``.

The baseline is the API's contact post, ``POST /email/v1/List/{id}/Contact``,
run exactly as bench/api.py runs it (its script bench/api_post.lua: four
profile values, three requests in four a new address, one in four an update;
a client's bearer token) on the same server, with the same connections and
duration, right after.

How to read the figures (last line, one JSON object):

- ``signup_requests_per_s``, ``signup_p99_ms``: answered signups per second
  and the 99th percentile latency seen by the client; ``api_…`` the same for
  the contact post.
- ``ratio``: signup requests/s ÷ API requests/s. Below 1, a signup costs
  more than an API contact write (it also counts two rate limits, checks the
  token and fires the event); that the cost is of the same order is the point.
- ``signup_errors``: non-2xx answers, socket errors, answered signups not in
  the database, contacts of addresses never sent and signups that did not end
  ``subscribed`` with their event fired. ``api_errors``: bench/api.py's
  count. Both should be 0.

Measured on the 2-core machine, quiet, 20 s and 16 connections each, three
runs: signups 108, 110 and 108 requests/s (p99 199, 201 and 204 ms), the
API's contact post 168, 141 and 156 requests/s (p99 139, 164 and 150 ms):
ratio 0.64, 0.78 and 0.69. A signup runs some seventeen queries (the two
rate-limit counters, the point and its fields, the subscription, the event,
the signup row); the CPU of building and compiling them in the worker is
most of its cost.

Requests in flight when wrk stops are finished by the server (it stops
gracefully) but never answered to wrk: stored may exceed answered by at most
those.

The machine's cores are shared by the server, PostgreSQL and wrk; compare
figures from the same machine only, taken on a quiet machine.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from _setup import ROOT, fresh_database, start_django
from _web import get_token, serve

LUA_SCRIPT = ROOT / "bench" / "signup_post.lua"
#: High enough that the limits count every post but refuse none.
LIMITS = {"SIGNUP_LIMIT_PER_ADDRESS": "100000000"}


def bench_api() -> ModuleType:
    """bench/api.py, whose set-up, load and checks the API part reuses (loaded
    by path: ``api`` is the platform's own package)."""
    spec = importlib.util.spec_from_file_location("bench_api", ROOT / "bench" / "api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@dataclass
class Point:
    key: str
    list_id: int
    fields: list[tuple[int, str]]  # (profile field id, data type)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    api = bench_api()
    api.ensure_wrk()
    api.warn_if_busy()
    with fresh_database("postgres") as url:
        start_django(url)
        for package in ("signups", "emails"):  # as _setup.precompile does for the others
            compileall.compile_dir(ROOT / package, quiet=1)
        print(json.dumps(run(url, args, api)))


def run(url: str, args: argparse.Namespace, api: ModuleType) -> dict[str, object]:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/signup.py measures PostgreSQL; DATABASE_URL is not PostgreSQL.")
    point = prepare_point(api.FIELDS)
    rehearsal = prepare_point([], name="warm-up")
    setup = api.prepare()
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "gunicorn.log"
        signup_counters = Path(directory) / "signup.json"
        api_counters = Path(directory) / "api.json"
        with serve(url, log, **LIMITS) as base_url:
            warm_up(base_url, point, rehearsal)
            signups = run_wrk(base_url, point, args, signup_counters, api)
            # The API part waits for the signups' stragglers: each part gets the server alone.
            time.sleep(2)
            token = get_token(base_url, setup.client_id, setup.client_secret)
            api.warm_up(base_url, setup, token)
            contacts = api.run_wrk(base_url, setup, token, args, api_counters)
        # The server has stopped gracefully: every request it accepted is finished.
        print(signups.output, file=sys.stderr)
        signup_errors = check_signups(point, json.loads(signup_counters.read_text()), signups)
        print(contacts.output, file=sys.stderr)
        api_errors = api.count_errors(setup, json.loads(api_counters.read_text()), contacts)
    signup_rate = signups.requests / signups.seconds
    api_rate = contacts.requests / contacts.seconds
    print(
        f"signup: {signup_rate:.0f} requests/s, p99 {signups.p99_ms:.0f} ms; "
        f"API contact post (the baseline): {api_rate:.0f} requests/s, "
        f"p99 {contacts.p99_ms:.0f} ms; signup ÷ API = {signup_rate / api_rate:.2f}",
        file=sys.stderr,
    )
    return {
        "bench": "signup",
        "connections": args.connections,
        "seconds": args.seconds,
        "signup_requests": signups.requests,
        "signup_requests_per_s": round(signup_rate),
        "signup_p99_ms": round(signups.p99_ms, 1),
        "signup_errors": signup_errors,
        "api_requests": contacts.requests,
        "api_requests_per_s": round(api_rate),
        "api_p99_ms": round(contacts.p99_ms, 1),
        "api_errors": api_errors,
        "baseline": "the API's contact post",
        "ratio": round(signup_rate / api_rate, 2),
    }


# --- Set-up -------------------------------------------------------------------


def prepare_point(fields: list[tuple[str, str]], name: str = "bench signups") -> Point:
    """A list with ``fields`` (bench/api.py's four) and a point asking for
    them all; its event is the one a new point gets."""
    from lists.models import List, ProfileField, ProfileFieldGroup
    from signups.models import PointField, SubscriptionPoint
    from signups.services import save_point

    email_list = List.objects.create(name=name)
    group = ProfileFieldGroup.objects.create(list=email_list, name="Profile")
    profile_fields = [
        ProfileField.objects.create(group=group, name=name, data_type=data_type, position=n)
        for n, (name, data_type) in enumerate(fields)
    ]
    point = save_point(
        SubscriptionPoint(list=email_list, name="Footer", signups_per_minute=100_000)
    )
    for n, field in enumerate(profile_fields):
        PointField.objects.create(point=point, field=field, position=n)
    return Point(
        key=point.key,
        list_id=email_list.pk,
        fields=[(field.pk, field.data_type) for field in profile_fields],
    )


def warm_up(base_url: str, point: Point, rehearsal: Point) -> None:
    """Loads of the hosted page and signups to another list's point, so both
    workers have loaded the views and services and connected to the database
    before the clock starts (and the measured list stays empty until then)."""
    from signups import tokens

    token = tokens.make_token(rehearsal.key, now=time.time() - 60)

    def load(n: int) -> None:
        urllib.request.urlopen(f"{base_url}/s/{point.key}/", timeout=30).read()
        form = {"email": f"warm-up-{n}@example.com", "website": "", "token": token}
        data = urllib.parse.urlencode(form).encode()
        urllib.request.urlopen(f"{base_url}/s/{rehearsal.key}/", data=data, timeout=30).read()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(load, range(32)))


# --- Load ---------------------------------------------------------------------


def run_wrk(base_url: str, point: Point, args: argparse.Namespace, counters: Path, api: ModuleType):
    from signups import tokens

    path = f"/s/{point.key}/"
    # Shown a minute ago: past the minimum fill time, far from the 24-hour expiry.
    token = tokens.make_token(point.key, now=time.time() - 60)
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_TOKEN": urllib.parse.quote(token, safe=""),
        "BENCH_FIELDS": ",".join(f"{pk}:{data_type}" for pk, data_type in point.fields),
        "BENCH_RESULT": str(counters),
    }
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(LUA_SCRIPT), base_url + path]
    print(f"wrk signups: {args.seconds} s, {args.connections} connections…", file=sys.stderr)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or done.stderr.strip() or not counters.exists():
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return api.parse_wrk(done.stdout)


# --- Checks -------------------------------------------------------------------


def check_signups(point: Point, counters: dict, figures) -> int:
    """Failed requests plus lost or wrong writes.

    Every 2xx answer must be a stored signup of a new contact, ``subscribed``
    with the point's event fired; every contact must be an address sent.
    Stored signups beyond the answered ones are requests in flight when wrk
    stopped (the server finished them, wrk did not wait for the answer).
    """
    from django.db.models import Count

    from contacts.models import Activity, ActivityKind, Contact
    from signups.models import Signup, SignupOutcome

    threads = counters["threads"]
    answered_ok = sum(t["ok"] for t in threads)
    non2xx = sum(t["non2xx"] for t in threads)
    in_flight = sum(t["sent"] - t["answered"] for t in threads)
    socket_errors = sum(counters["socket_errors"].values())
    sent = {f"bench-t{t['id']}-{n}@example.com" for t in threads for n in range(1, t["sent"] + 1)}
    stored = set(Contact.objects.filter(list_id=point.list_id).values_list("email", flat=True))
    signups = {
        row["outcome"]: row["n"]
        for row in Signup.objects.filter(point__key=point.key)
        .order_by()
        .values("outcome")
        .annotate(n=Count("id"))
    }
    subscribed = signups.pop(SignupOutcome.SUBSCRIBED, 0)
    fired = Activity.objects.filter(list_id=point.list_id, kind=ActivityKind.EVENT_FIRED).count()
    lost = max(0, answered_ok - subscribed)
    beyond = max(0, subscribed - answered_ok - in_flight)  # more than was ever sent
    stray = len(stored - sent)
    other = sum(signups.values())  # refused as bots, or not new: none should be
    unfired = abs(fired - subscribed) + abs(len(stored) - subscribed)
    print(
        f"signups: sent {sum(t['sent'] for t in threads)} requests; {answered_ok} answered "
        f"2xx, {non2xx} not (wrk: {figures.non2xx}); socket errors: "
        f"{counters['socket_errors']}; {subscribed} signups stored ({len(stored)} contacts, "
        f"{fired} events fired), {subscribed - answered_ok} of them from requests in flight "
        f"at the end ({in_flight} were); lost: {lost}; other outcomes: {signups or 0}; "
        f"contacts never sent: {stray}",
        file=sys.stderr,
    )
    return non2xx + socket_errors + lost + beyond + stray + other + unfired


if __name__ == "__main__":
    main()
