"""The production web server for the benchmarks: gunicorn on a free port, and
an API bearer token as a client gets one."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from _setup import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(
    url: str, log: Path, *, worker_class: str = "sync", threads: int = 1, **env: str
) -> Iterator[str]:
    """Run gunicorn with 2 workers on a free port against database ``url``;
    yield its base URL; stop it gracefully (workers finish their requests)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    command += ["--workers", "2", "--bind", f"127.0.0.1:{port}"]
    command += ["--worker-class", worker_class]
    if worker_class == "gthread":  # gunicorn turns sync into gthread when threads > 1
        command += ["--threads", str(threads)]
    environment = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    with open(log, "w") as stream:
        server = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=stream, stderr=stream)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base_url, server, log)
        yield base_url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_answering(base_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{log.read_text()}")
        try:
            urllib.request.urlopen(f"{base_url}/email/v1/", timeout=5)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer will do (this one is a 404)
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer within 60 s:\n{log.read_text()}")


def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    """A bearer token, requested as a client does: form-encoded client credentials."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
    ).encode()
    with urllib.request.urlopen(f"{base_url}/OAuth2/Token", data=form, timeout=30) as answer:
        return json.load(answer)["access_token"]
