"""Placeholder replaced by the fields resource."""

urlpatterns: list = []
