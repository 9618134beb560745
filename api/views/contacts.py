"""Placeholder replaced by the contacts resource."""

urlpatterns: list = []
