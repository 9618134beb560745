"""The Conductor admin, which is the workflow editor: conversations (the
working version's threads and steps, triggers, diagram, publishing, counts),
threads with drag-and-drop step order, steps with per-kind forms, coupon
pools with code uploads, and enrollments. Messages and deliveries are the
emails app's (``emails.admin``)."""

from conductor.admin import conversations, coupons, enrollments, steps, threads

__all__ = ["conversations", "coupons", "enrollments", "steps", "threads"]
