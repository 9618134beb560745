"""The TransactionalMessage operations of the permission table
(``tests/test_security_api_permissions.py``): each a ``(method, path, body,
success status)`` that succeeds with a token holding every scope."""

from __future__ import annotations

from typing import Any

from broadcasts.transactional import send_transactional
from broadcasts.transactional_reads import resend_key_text
from lists.models import List
from tests.transactional_helpers import field_id, order_confirmation


def transactional_operations(shop: List) -> list[tuple[Any, ...]]:
    """What the routes name is made here, in ``shop``."""
    receipt = order_confirmation(shop)
    sent = send_transactional(transactional_message=receipt, email="ada@example.com", values={})
    base = f"List/{shop.pk}/TransactionalMessage"
    one = f"{base}/{receipt.pk}"
    body = {
        "emailAddress": "bo@example.com",
        "segmentationFieldValues": [
            {"segmentationFieldId": field_id(shop, "First Name"), "value": "Bo"}
        ],
    }
    return [
        ("GET", base),
        ("GET", one),
        ("POST", f"{one}/Message", body, 201),
        ("GET", f"{one}/Activity"),
        ("POST", f"{one}/Resend/{resend_key_text(sent.send)}", {}, 201),
    ]
