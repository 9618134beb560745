"""A real Redis server for tests (Debian's ``redis-server``), on a free port
of 127.0.0.1, without persistence, that a test can kill and start again."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process at a time on a fixed port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed; run scripts/ensure_system_deps.sh")
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.directory),
            "save": "",  # no snapshots, no append-only file: a restart starts empty
            "appendonly": "no",
        }
        arguments = [part for name, value in options.items() for part in (f"--{name}", value)]
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [executable, *arguments], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready()

    def kill(self) -> None:
        """The outage: the server dies at once (SIGKILL), taking its queue with it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process is None or self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                pytest.fail(f"redis-server on port {self.port} did not start:\n{log}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"redis-server on port {self.port} not ready in {START_TIMEOUT} s")
            time.sleep(0.02)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()
