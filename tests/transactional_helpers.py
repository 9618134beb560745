"""A transactional message to send in tests: an order confirmation of the
``shop`` list (tests/conftest.py), showing First Name and Points."""

from __future__ import annotations

from broadcasts.models import TransactionalMessage
from emails.models import Message
from lists.models import List, ProfileField

SUBJECT = "Order confirmed, {{ profile.first_name }}"
HTML = (
    "<html><body><p>Thank you, {{ profile.first_name }}: you now have "
    '{{ profile.points }} points. <a href="https://shop.example/orders">Your orders</a></p>'
    "</body></html>"
)
TEXT = "Thank you, {{ profile.first_name }}: you now have {{ profile.points }} points."


def order_confirmation(shop: List, name: str = "Order confirmation", **message: str):
    """A transactional message of ``shop`` and its own message."""
    body = {"subject": SUBJECT, "html_body": HTML, "text_body": TEXT, **message}
    written = Message.objects.create(list=shop, name=name, from_email="shop@example.com", **body)
    return TransactionalMessage.objects.create(list=shop, name=name, message=written)


def field_id(shop: List, name: str) -> int:
    return ProfileField.objects.get(list=shop, name=name).pk


def field_key(shop: List, name: str) -> str:
    return ProfileField.objects.get(list=shop, name=name).key
