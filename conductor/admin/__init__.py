"""The Conductor admin, which is the workflow editor: conversations (the
working version's threads and steps, triggers, diagram, publishing, counts),
threads with drag-and-drop step order, steps with per-kind forms, coupon
pools with code uploads, and enrollments; and what it adds to other apps'
pages (``other_pages``: a contact's conversations, a message's published
versions, deliveries by conversation). Messages and deliveries are the
emails app's (``emails.admin``)."""

from conductor.admin import conversations, coupons, enrollments, other_pages, steps, threads

__all__ = ["conversations", "coupons", "enrollments", "other_pages", "steps", "threads"]
