"""The systemd units in deploy/systemd run what exists: each program from the
install prefix, the web's WSGI application importable, the worker's and the
migrate unit's management commands real; their environment file names only
variables the settings read, with every required one set; and systemd itself
accepts them (``systemd-analyze verify``) with the prefix pointed at this
checkout."""

from __future__ import annotations

import importlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
PREFIX = "/opt/retailmail"
ENV_EXAMPLE = UNITS / "retailmail.env.example"
#: Without these, a production start fails (SECRET_KEY, DATABASE_URL) or answers
#: nobody (ALLOWED_HOSTS) or mails wrong links (PUBLIC_BASE_URL).
REQUIRED = {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PUBLIC_BASE_URL"}
UNIT_NAMES = ("retailmail-web", "retailmail-worker", "retailmail-migrate")

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(path: Path) -> Unit:
    """systemd's format: [Section] headers, Key=Value lines (a key may repeat),
    # and ; comments, a trailing backslash continuing a line."""
    unit: Unit = {}
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.setdefault(section, [])
            continue
        key, _, value = line.partition("=")
        unit[section].append((key.strip(), value.strip()))
    return unit


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def value(unit: Unit, section: str, key: str) -> str:
    (found,) = values(unit, section, key)
    return found


def units() -> dict[str, Unit]:
    return {name: parse_unit(UNITS / f"{name}.service") for name in UNIT_NAMES}


def settings_variables() -> set[str]:
    """The environment variables config/settings.py reads (env_int("NAME", …) and the like)."""
    text = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'\benv_\w+\(\s*"([A-Z][A-Z0-9_]*)"', text))


def example_variables() -> tuple[set[str], set[str]]:
    """The variables the example sets, and those it shows commented out at their default."""
    set_: set[str] = set()
    shown: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=.*", line):
            (shown if match.group(1) else set_).add(match.group(2))
    return set_, shown


def test_every_program_a_unit_starts_is_in_the_install_prefix():
    for name, unit in units().items():
        starts = values(unit, "Service", "ExecStart")
        assert starts, name
        for command in starts:
            program, *arguments = shlex.split(command)
            assert program.startswith(f"{PREFIX}/.venv/bin/"), (name, program)
            assert (ROOT / ".venv" / "bin" / Path(program).name).exists(), program
            if program.endswith("/python"):
                assert arguments[0] == f"{PREFIX}/manage.py", (name, arguments)
        assert value(unit, "Service", "WorkingDirectory") == PREFIX
        assert value(unit, "Service", "User") == "retailmail"


def test_the_web_unit_serves_the_projects_wsgi_application_and_reloads_on_hup():
    web = units()["retailmail-web"]
    program, *arguments = shlex.split(value(web, "Service", "ExecStart"))
    assert program.endswith("/gunicorn")
    (target,) = [a for a in arguments if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", a)]
    module, _, attribute = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert target.replace(":", ".") == settings.WSGI_APPLICATION
    assert value(web, "Service", "ExecReload") == "/bin/kill -s HUP $MAINPID"


def test_the_worker_and_migrate_units_run_real_management_commands():
    commands = get_commands()
    run = {
        name: [shlex.split(c)[2] for c in values(unit, "Service", "ExecStart")]
        for name, unit in units().items()
        if name != "retailmail-web"
    }
    assert run == {
        "retailmail-worker": ["qcluster"],
        "retailmail-migrate": ["migrate", "collectstatic"],
    }
    for names in run.values():
        for command in names:
            assert command in commands, command


def test_the_worker_stops_its_main_process_first_and_waits_out_a_task():
    worker = units()["retailmail-worker"]
    assert value(worker, "Service", "KillSignal") == "SIGTERM"
    # Only the main process gets SIGTERM: django-q2 then stops its worker processes
    # once their task is done. SIGTERM to all of them kills the tasks.
    assert value(worker, "Service", "KillMode") == "mixed"
    assert int(value(worker, "Service", "TimeoutStopSec")) > settings.Q_TIMEOUT


@pytest.mark.django_db
def test_migrations_run_only_when_started_and_the_web_and_worker_wait_for_them():
    """Some migrations need the workers stopped: so the migrate unit runs only
    when an operator starts it, never at boot nor with a restart of the others,
    and those refuse to start on a database their code is ahead of."""
    all_units = units()
    migrate = all_units["retailmail-migrate"]
    assert value(migrate, "Service", "Type") == "oneshot"
    assert "Install" not in migrate  # no `enable`: not run at boot
    for name in ("retailmail-web", "retailmail-worker"):
        unit = all_units[name]
        assert "retailmail-migrate.service" not in values(unit, "Unit", "Wants")
        assert values(unit, "Service", "Restart") == ["on-failure"]
        (check,) = values(unit, "Service", "ExecStartPre")
        assert shlex.split(check)[1:] == ["/opt/retailmail/manage.py", "migrate", "--check"]
    call_command("migrate", "--check")  # the test database is migrated: it passes


def test_every_unit_is_hardened_and_writes_only_where_it_must():
    for name, unit in units().items():
        for key, expected in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("PrivateTmp", "yes"),
        ]:
            assert value(unit, "Service", key) == expected, (name, key)
        assert values(unit, "Service", "ReadWritePaths"), name
    media = {value(units()[n], "Service", "ReadWritePaths") for n in UNIT_NAMES[:2]}
    set_, _ = example_variables()
    assert media == {"/var/lib/retailmail/media"}
    assert "MEDIA_ROOT=/var/lib/retailmail/media" in ENV_EXAMPLE.read_text().splitlines()
    assert "STATIC_ROOT" in set_
    assert value(units()["retailmail-migrate"], "Service", "ReadWritePaths") == (
        "/var/lib/retailmail/static"
    )


def test_the_environment_file_names_only_settings_and_sets_every_required_one():
    read = settings_variables()
    set_, shown = example_variables()
    assert {"DATABASE_URL", "DATABASE_POOLER", "SECRET_KEY", "Q_WORKERS"} <= read  # the parse works
    assert (set_ | shown) - read == set()
    assert set_ >= REQUIRED
    assert not set_ & shown, "a variable both set and shown commented out"
    # Every production setting is there; the test suite's own is not.
    assert read - (set_ | shown) == {"DEBUG", "TEST_SQLITE_NAME"}
    for unit in units().values():
        assert value(unit, "Service", "EnvironmentFile") == "/etc/retailmail/retailmail.env"


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian's systemd package)",
)
def test_systemd_accepts_the_units_with_the_prefix_pointed_at_this_checkout(tmp_path):
    # systemd-analyze verify checks that each program exists: here, this checkout
    # and its .venv stand for /opt/retailmail.
    for name in UNIT_NAMES:
        text = (UNITS / f"{name}.service").read_text().replace(PREFIX, str(ROOT))
        (tmp_path / f"{name}.service").write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / f"{n}.service") for n in UNIT_NAMES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
