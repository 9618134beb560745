"""Placeholder replaced by the events resource."""

urlpatterns: list = []
