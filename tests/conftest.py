"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"database: SQLite, test database {db.get('TEST', {}).get('NAME')}"
    return f"database: {db['ENGINE']} at {db['HOST']}:{db['PORT']}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the test item, so fixtures can tell whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """A Playwright page in Debian's Chromium (CHROMIUM_PATH); a screenshot is kept on failure."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread; Django then refuses ORM calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        page = context.new_page()
        try:
            yield page
        finally:
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
                page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
            context.close()
            browser.close()
            # While Playwright's loop runs, Django keeps this thread's connections apart
            # (asgiref.Local); close them, or PostgreSQL can't drop the test database.
            connections.close_all()


@pytest.fixture(autouse=True)
def fast_hashing(settings) -> None:
    """API client secrets and passwords hashed cheaply: PBKDF2's deliberate
    slowness would cost every test that makes a client or a user a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> None:
    """Uploaded files (imports) go to a directory of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test asking for ``engine`` runs on every import path this database has.
    if "engine" in metafunc.fixturenames:
        from tests.imports_helpers import engines

        metafunc.parametrize("engine", engines())


@pytest.fixture
def shop():
    """A list "Shop" with typed profile fields: First Name, Birthday, Points, VIP."""
    from lists.models import DataType
    from tests.factories import ListFactory, ProfileFieldFactory

    email_list = ListFactory(name="Shop")
    group = ProfileFieldFactory(list=email_list, group__list=email_list, name="First Name").group
    ProfileFieldFactory(group=group, name="Birthday", data_type=DataType.DATE)
    ProfileFieldFactory(group=group, name="Points", data_type=DataType.NUMERIC)
    ProfileFieldFactory(group=group, name="VIP", data_type=DataType.CHECK_BOX)
    return email_list


@pytest.fixture
def api(db):
    """A Listrak-style API caller with every scope."""
    from tests.api_helpers import api_caller

    return api_caller()


# A real SMTP server (aiosmtpd) as the ``smtp_server`` fixture; see tests/smtp.py.
from tests.smtp import smtp_server as smtp_server  # noqa: E402
