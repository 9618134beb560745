"""Settings come from the environment; a bad value stops the start naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE'], settings.Q_CLUSTER.get('orm'), "
            "settings.Q_CLUSTER.get('redis'), settings.EMAIL_BACKEND)",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_refuses_to_start_without_a_secret_key_unless_debug():
    refused = start()
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
    assert start(DEBUG="true").returncode == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "ture", "DEBUG='ture' is invalid: expected one of true/false"),
        ("DATABASE_URL", "mysql://x@y/z", "only PostgreSQL and SQLite are supported"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL is invalid"),
        (
            "TIME_ZONE",
            "Mars/Olympus",
            "TIME_ZONE='Mars/Olympus' is invalid: expected an IANA time zone",
        ),
        ("Q_WORKERS", "two", "Q_WORKERS='two' is invalid: expected a whole number"),
        ("Q_WORKERS", "0", "Q_WORKERS='0' is invalid: expected a number of at least 1"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL='localhost:6379' is invalid"),
        ("EMAIL_URL", "pigeon://coop", "EMAIL_URL='pigeon://coop' is invalid"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is invalid"),
        ("EMAIL_FEEDBACK_SECRET", "short", "EMAIL_FEEDBACK_SECRET is too short"),
        ("CONVERSION_WINDOW_DAYS", "0", "CONVERSION_WINDOW_DAYS='0' is invalid"),
        ("ACTIVITY_RETENTION_DAYS", "-30", "ACTIVITY_RETENTION_DAYS='-30' is invalid"),
        ("ACTIVITY_RETENTION_DAYS", "1 year", "ACTIVITY_RETENTION_DAYS='1 year' is invalid"),
        ("ACTIVITY_PARTITIONS_AHEAD", "0", "ACTIVITY_PARTITIONS_AHEAD='0' is invalid"),
        ("DATABASE_POOLER", "pgbouncer", "DATABASE_POOLER='pgbouncer' is invalid"),
        ("DATABASE_POOLER", "transaction", "DATABASE_POOLER=transaction is invalid with SQLite"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(name, value, message):
    result = start(SECRET_KEY="x" * 50, **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_the_defaults_are_sqlite_and_the_orm_broker_and_redis_when_configured():
    default = start(DEBUG="true")
    assert default.stdout.split() == [
        "django.db.backends.sqlite3",
        "default",
        "None",
        "django.core.mail.backends.console.EmailBackend",
    ]
    redis = start(
        SECRET_KEY="x" * 50,
        REDIS_URL="redis://localhost:6379/0",
        DATABASE_URL="postgres://u:p@db:5432/shop",
        EMAIL_URL="smtp://mailer:25",
    )
    assert redis.returncode == 0, redis.stderr
    assert redis.stdout.split() == [
        "django.db.backends.postgresql",
        "None",
        "redis://localhost:6379/0",
        "django.core.mail.backends.smtp.EmailBackend",
    ]


def test_transaction_pooling_turns_off_server_side_cursors_on_postgresql():
    def cursors_off(**env: str) -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.conf import settings; "
                "print(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))",
            ],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if k != "DATABASE_POOLER"},
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "SECRET_KEY": "x" * 50,
                "DATABASE_URL": "postgres://u:p@db:6432/shop",
                **env,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    assert cursors_off(DATABASE_POOLER="transaction") == "True"
    assert cursors_off(DATABASE_POOLER="none") == "False"
    assert cursors_off() == "False"
