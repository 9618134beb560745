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


def write_body(page: Page, name: str, text: str) -> None:
    """Type ``text`` into a message body's editor on the page: its code
    editor, or its text area without one. ``name`` is the field's."""
    page.evaluate(
        """([name, text]) => {
            const row = document.querySelector(".form-row.field-" + name);
            const widget = row.querySelector(".django-ace-widget");
            if (widget && widget.editor) { widget.editor.setValue(text, 1); return; }
            row.querySelector("textarea").value = text;
        }""",
        [name, text],
    )
