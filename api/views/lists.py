"""Placeholder replaced by the lists resource."""

urlpatterns: list = []
