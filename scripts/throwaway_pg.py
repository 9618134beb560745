"""A throwaway PostgreSQL cluster for the test suite and the benchmarks.

Standard library only, so it also runs under the system ``python3``.

    from scripts.throwaway_pg import throwaway_postgres
    with throwaway_postgres() as url:  # postgres://postgres@127.0.0.1:PORT/retailmail
        ...

    python scripts/throwaway_pg.py -- pytest -x   # runs the command with DATABASE_URL set

The cluster lives in a fresh directory under /tmp, listens on a free port on
127.0.0.1 only, trusts every local connection and trades durability for speed
(fsync off): it is for data nobody needs afterwards. It is stopped and deleted
on exit, including on Ctrl-C, SIGTERM and errors. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "1GB",
    # Bulk loads (imports, benchmarks) should not spend their time in checkpoints.
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
}
SUPERUSER = "postgres"
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


class ThrowawayPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres (highest installed version)."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        candidates.append(Path(out))

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin$", path)
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    # pg_config comes from libpq-dev and may name a version whose server is not installed.
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    candidates += [Path(p) for p in installed]
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise ThrowawayPostgresError(
        "No PostgreSQL server found (looked at `pg_config --bindir` and "
        "/usr/lib/postgresql/*/bin). Install it, e.g. `apt-get install postgresql` "
        "(scripts/ensure_system_deps.sh does)."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Cluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="throwaway-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        if self.as_root:
            shutil.chown(self.root, user=SUPERUSER, group=SUPERUSER)

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        # cwd: the postgres user may not be allowed into the caller's directory.
        result = subprocess.run(
            command, cwd=self.root, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise ThrowawayPostgresError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    def initdb(self) -> None:
        self.run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
            "--locale=C", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        settings = {
            **FAST_SETTINGS,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
        }
        # Appending keeps the file's owner (postgres) even when we are root.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# throwaway_pg\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = _free_port()
            try:
                self.run(
                    "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                    "-l", str(self.log), "-o", f"-p {self.port}",
                )  # fmt: skip
                return
            except ThrowawayPostgresError:
                if attempt == START_ATTEMPTS:
                    raise

    def createdb(self, name: str) -> None:
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)

    def destroy(self) -> None:
        # postmaster.pid also exists when we were interrupted while pg_ctl was starting it.
        if (self.data / "postmaster.pid").exists():
            try:
                self.run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
            except ThrowawayPostgresError:
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the cluster is cleaned up, when nobody else handles it."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def throwaway_postgres(*, dbname: str = "retailmail") -> Iterator[str]:
    """Start a fresh cluster with one database; yield its URL; stop and delete it on exit."""
    cluster = _Cluster(find_bindir())
    with _sigterm_as_exit():
        try:
            cluster.initdb()
            cluster.start()
            cluster.createdb(dbname)
            yield f"postgres://{SUPERUSER}@127.0.0.1:{cluster.port}/{dbname}"
        finally:
            cluster.destroy()


def run_with_postgres(command: Sequence[str], *, dbname: str = "retailmail") -> int:
    """Run ``command`` with DATABASE_URL pointing at a throwaway cluster; return its exit code."""
    with throwaway_postgres(dbname=dbname) as url:
        env = {**os.environ, "DATABASE_URL": url}
        child = subprocess.Popen(list(command), env=env)

        def forward(signum: int, frame: object) -> None:
            child.send_signal(signum)

        # The child shares our terminal, so it gets Ctrl-C itself; we wait for it, then clean up.
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        old_term = signal.signal(signal.SIGTERM, forward)
        try:
            returncode = child.wait()
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command against a throwaway PostgreSQL cluster (DATABASE_URL is set).",
        usage="%(prog)s [--dbname NAME] -- COMMAND [ARGS...]",
    )
    parser.add_argument("--dbname", default="retailmail", help="database to create")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    try:
        return run_with_postgres(command, dbname=args.dbname)
    except ThrowawayPostgresError as exc:
        print(f"throwaway_pg: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"throwaway_pg: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
