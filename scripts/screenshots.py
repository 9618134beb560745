"""Remake the README's screenshots (``docs/screenshots/``) from the demo.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

On a throwaway SQLite database: ``migrate``, ``seed_demo`` (its two
conversations and their week of history, sent to the development mailbox),
then ``runserver`` on a free port, and Chromium (``CHROMIUM_PATH``, default
``/usr/bin/chromium``) driven by Playwright logs in as the demo user and
takes each page whole: the admin home, a contact's page, the Welcome series'
page, its report, its Go To step's filter builder, the Pop-up point, and the
demo's broadcasts (the list, "Summer preview"'s audience, "Spring sale"'s
report).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3",
            "EMAIL_BACKEND": "emails.mailbox.MailboxBackend",
        }
        manage = [PYTHON, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
        subprocess.run([*manage, "seed_demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        port = _free_port()
        server = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(base)
            _shoot(base, args.out)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/admin/login/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _shoot(base: str, out: Path) -> None:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo-password")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        _save(page, out / "admin-home.png")

        page.goto(f"{base}/admin/conductor/conversation/")
        page.click("text=Welcome series")
        page.wait_for_selector("#diagram")
        conversation = page.url
        _save(page, out / "conversation-page.png")
        _save(page.locator("#conversation-report"), out / "conversation-report.png")

        page.goto(conversation)
        page.click("a:has-text('Clicked? Then we are done')")
        page.wait_for_selector(".criteria-builder")
        page.wait_for_selector(".criteria-count:has-text('match now')")
        _save(page, out / "filter-builder.png")

        page.goto(f"{base}/admin/signups/subscriptionpoint/")
        page.click("#result_list a:has-text('Pop-up')")
        page.wait_for_selector("#put-it-on-your-site")
        _save(page.locator("#put-it-on-your-site"), out / "point-snippets.png")
        page.click("#show-popup")
        page.wait_for_selector("dialog[open]")
        page.wait_for_timeout(600)  # its fade-in
        page.screenshot(path=str(out / "point-popup-preview.png"))
        print(out / "point-popup-preview.png")
        page.keyboard.press("Escape")
        _save(page.locator("#point-report"), out / "point-report.png")

        # The demo's broadcasts: "Summer preview" scheduled with conditions, "Spring sale" sent.
        page.goto(f"{base}/admin/broadcasts/broadcast/")
        _save(page, out / "broadcast-list.png")
        page.click("#result_list a:has-text('Summer preview')")
        page.wait_for_selector(".criteria-builder")
        page.wait_for_selector("text=This broadcast reaches")
        page.wait_for_timeout(500)  # the count, fetched once the rows are drawn
        _save(page, out / "broadcast-audience.png")
        page.goto(f"{base}/admin/broadcasts/broadcast/")
        page.click("#result_list a:has-text('Spring sale')")
        page.wait_for_selector("text=Clicks per link")
        _save(page, out / "broadcast-report.png")

        # The first demo contact joined the Welcome series (seed_demo's history).
        page.goto(f"{base}/admin/contacts/contact/?q=demo0001%40example.com")
        page.click("#result_list tbody tr:first-child th a")
        page.wait_for_selector("#contact_form")
        _save(page, out / "contact-page.png")
        browser.close()


def _save(target, path: Path) -> None:
    if isinstance(target, Page):
        target.screenshot(path=str(path), full_page=True)
    else:
        target.screenshot(path=str(path))
    print(path)


if __name__ == "__main__":
    main()
