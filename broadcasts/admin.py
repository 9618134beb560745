"""The broadcasts app's admin, one module per part: broadcasts and split
tests (``admin_broadcasts``), campaigns and saved audiences
(``admin_library``), saved messages (``admin_saved_messages``),
transactional messages (``admin_transactional``)."""

from __future__ import annotations

from broadcasts import (  # noqa: F401
    admin_broadcasts,
    admin_library,
    admin_saved_messages,
    admin_transactional,
)
