"""The Content and ContentFolder operations of the permission table
(``tests/test_security_api_permissions.py``): each a ``(method, path, body,
success status)`` that succeeds with a token holding every scope."""

from __future__ import annotations

from typing import Any

from emails.content_library import create_block, save_folder
from emails.models import ContentFolder
from lists.models import List


def content_operations(shop: List) -> list[tuple[Any, ...]]:
    """What the routes name is made here, in ``shop``."""
    folder = save_folder(ContentFolder(name="Footers", list=shop))
    block = create_block(name="Footer", html="<p>Free returns</p>", folder=folder)
    return [
        ("GET", "Content"),
        ("POST", "Content", {"contentName": "Banner", "htmlContent": "<p>Spring</p>"}, 201),
        ("GET", f"Content/{block.pk}"),
        ("PUT", f"Content/{block.pk}", {"textContent": "Free returns"}),
        ("GET", "ContentFolder"),
    ]
