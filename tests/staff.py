"""Signed-in staff for admin tests, each with exactly the permissions a test names."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.test import Client


def staff(*permissions: str) -> Client:
    """A signed-in staff account with exactly these permissions ("app.codename")."""
    user = User.objects.create_user(f"staff{User.objects.count()}", is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client
