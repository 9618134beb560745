"""Shared start-up for the benchmarks: a fresh database and Django."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.throwaway_pg import throwaway_postgres  # noqa: E402


@contextlib.contextmanager
def fresh_database(engine: str) -> Iterator[str]:
    """Yield a DATABASE_URL of an empty database: ``DATABASE_URL`` itself when
    set, else a throwaway PostgreSQL cluster or a temporary SQLite file."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif engine == "postgres":
        with throwaway_postgres(dbname="bench") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.sqlite3"


def precompile() -> None:
    """Write the platform's bytecode, as a deployment does (``compileall``):
    the worker processes a benchmark starts then load it instead of
    compiling some two hundred modules each, also where
    ``PYTHONDONTWRITEBYTECODE`` is set (it stops writing, not reading)."""
    import compileall

    packages = ("api", "broadcasts", "config", "conductor", "contacts", "emails", "integrations")
    for package in (*packages, "lists", "signups"):
        compileall.compile_dir(ROOT / package, quiet=1)


def start_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    precompile()
