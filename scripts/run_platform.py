"""Run the web server and the django-q2 worker together, for development (`make run`).

The web server is gunicorn, as in production (README, "Running in
production"), reloading on code changes: Django's runserver cannot read a
chunked request body (see config/wsgi.py), so development would not behave
as production does. With DEBUG on, config/urls.py serves the static files.

Emails go to the development mailbox (the admin's Emails > Development
mailbox) unless EMAIL_URL or EMAIL_BACKEND says otherwise: trying the
platform mails no one.

Each child runs in its own process group, so stopping it also stops what it
started (gunicorn's workers, qcluster's worker processes) and no
orphan is left behind. Ctrl-C or SIGTERM stops both and exits 0; if either
child dies on its own, the other is stopped and the exit code is non-zero.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 10.0
MAILBOX_BACKEND = "emails.mailbox.MailboxBackend"


class Child:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def signal_group(self, signum: int) -> bool:
        """Send signum to the child's process group; False once the group is empty."""
        self.process.poll()  # reap the leader, so an empty group reads as empty
        try:
            os.killpg(self.process.pid, signum)
            return True
        except ProcessLookupError:
            return False


def stop_all(children: list[Child]) -> None:
    """Stop every child's whole process group, escalating from SIGINT to SIGKILL."""
    # SIGINT first: it is what Ctrl-C sends a whole group, and both commands stop cleanly on it.
    # A group whose leader already died gets SIGTERM (qcluster's orphans ignore SIGINT).
    for signum, grace in (
        (signal.SIGINT, GRACE_SECONDS),
        (signal.SIGTERM, 5.0),
        (signal.SIGKILL, 5.0),
    ):
        alive = [child for child in children if child.signal_group(0)]
        if not alive:
            break
        for child in alive:
            leader_gone = child.process.returncode is not None
            child.signal_group(
                signal.SIGTERM if leader_gone and signum == signal.SIGINT else signum
            )
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(child.signal_group(0) for child in alive):
            time.sleep(0.1)
    for child in children:
        child.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    mailbox = not (os.environ.get("EMAIL_URL") or os.environ.get("EMAIL_BACKEND"))
    if mailbox:
        os.environ["EMAIL_BACKEND"] = MAILBOX_BACKEND  # the children inherit it

    web = ["-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{args.port}"]
    children = [
        Child("web server", [*web, "--workers", "2", "--reload", "--access-logfile", "-"]),
        Child("worker (qcluster)", [str(ROOT / "manage.py"), "qcluster"]),
    ]
    admin = f"http://127.0.0.1:{args.port}/admin/"
    print(f"\n  Admin: {admin}   (Ctrl-C stops both)", flush=True)
    if mailbox:
        print(f"  Emails: {admin}emails/mailboxemail/   (kept, not sent)", flush=True)
    print(flush=True)

    exit_code = 0
    while not stop_requested:
        dead = [child for child in children if child.process.poll() is not None]
        if dead:
            for child in dead:
                code = child.process.returncode
                print(f"run_platform: the {child.name} exited ({code}); stopping.", flush=True)
            exit_code = 1
            break
        time.sleep(0.2)

    stop_all(children)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
