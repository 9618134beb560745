"""Placeholder replaced by the imports resource."""

urlpatterns: list = []
