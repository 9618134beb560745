"""Helpers for the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Log into the admin through its login form."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
