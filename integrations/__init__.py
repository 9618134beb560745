"""Outbound integrations. Today: the Segment source (``integrations.segment``)."""
