"""Run the whole test suite twice: on SQLite, then on a throwaway PostgreSQL.

Both runs always happen; the exit code is non-zero when either fails (pytest's
"no tests collected" counts as a failure). Extra arguments go to pytest.
Used by `make test`; the summary is also written to var/test-artifacts/summary.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from throwaway_pg import ThrowawayPostgresError, throwaway_postgres

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "test-artifacts"


@dataclass
class SuiteResult:
    label: str
    exit_code: int
    counts: dict[str, int] | None  # None when pytest wrote no report

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def count_line(self) -> str:
        if self.counts is None:
            return f"{self.label}: no result"
        c = self.counts
        failed = c["failures"] + c["errors"]
        passed = c["tests"] - failed - c["skipped"]
        return f"{self.label}: {passed} passed, {failed} failed, {c['skipped']} skipped"


def _read_junit(path: Path) -> dict[str, int] | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    return {
        key: sum(int(suite.get(key, 0)) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    }


def run_suite(label: str, env: dict[str, str], pytest_args: list[str]) -> SuiteResult:
    junit = ARTIFACTS / f"junit-{label.lower()}.xml"
    junit.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", f"--junitxml={junit}", *pytest_args]
    exit_code = subprocess.run(command, cwd=ROOT, env=env).returncode
    return SuiteResult(label, exit_code, _read_junit(junit))


def main(pytest_args: list[str]) -> int:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = []

    print("=== test suite on SQLite ===", flush=True)
    # A test database of its own, so a pytest run started by hand at the same time can't clash.
    with tempfile.TemporaryDirectory(prefix="retailmail-test-") as tmp:
        sqlite_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        sqlite_env.setdefault("TEST_SQLITE_NAME", str(Path(tmp) / "test.sqlite3"))
        results.append(run_suite("SQLite", sqlite_env, pytest_args))

    try:
        with throwaway_postgres() as url:
            print(f"=== test suite on PostgreSQL ({url}) ===", flush=True)
            pg_env = {**os.environ, "DATABASE_URL": url}
            results.append(run_suite("PostgreSQL", pg_env, pytest_args))
    except ThrowawayPostgresError as exc:
        print(f"=== could not start PostgreSQL: {exc}", flush=True)
        results.append(SuiteResult("PostgreSQL", 1, None))

    lines = ["=== test summary ==="]
    lines += [
        f"{r.label} run: {'ok' if r.ok else 'FAILED'} (pytest exit code {r.exit_code})"
        for r in results
    ]
    lines += [r.count_line() for r in results]
    summary = "\n".join(lines) + "\n"
    (ARTIFACTS / "summary.txt").write_text(summary)
    print(summary, end="", flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
