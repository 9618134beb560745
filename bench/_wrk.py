"""wrk for the HTTP benchmarks: installed when missing, its ``--latency``
output read, and a warning when the machine is busy before a run."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _setup import ROOT

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass
class WrkFigures:
    requests: int  # answered (wrk counts a request when its answer is read)
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int  # wrk's own "Non-2xx or 3xx responses" (it counts statuses >= 400)
    output: str


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_system_deps.sh"), "wrk"], check=True)


def warn_if_busy() -> None:
    """Warn when other processes keep the cores busy: the figures would be low."""

    def busy_and_total() -> tuple[int, int]:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # minus idle and iowait

    with contextlib.suppress(OSError, ValueError, IndexError):
        busy, total = busy_and_total()
        time.sleep(1)
        busy2, total2 = busy_and_total()
        share = (busy2 - busy) / max(total2 - total, 1)
        if share > 0.1:
            print(
                f"warning: the cores are {share:.0%} busy before the run; "
                "other work will share them and the figures will be low",
                file=sys.stderr,
            )


def parse_wrk(output: str) -> WrkFigures:
    """The request count, duration and 50th and 99th percentiles from wrk's
    ``--latency`` output."""
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", output, re.M)
    p50, p99 = (
        re.search(rf"^\s*{p}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M) for p in (50, 99)
    )
    if total is None or p50 is None or p99 is None:
        raise SystemExit(f"Could not read wrk's output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkFigures(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS[total.group(3)],
        p50_ms=float(p50.group(1)) * _UNITS[p50.group(2)] * 1000,
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)] * 1000,
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        output=output,
    )
