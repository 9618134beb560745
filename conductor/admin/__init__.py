"""The Conductor admin, which is the workflow editor: conversations (the
working version's threads and steps, triggers, diagram, publishing, counts),
threads with drag-and-drop step order, steps with per-kind forms, coupon
pools with code uploads, and enrollments; on contacts' pages, their
conversations (``contact_pages``). Messages and deliveries are the
emails app's (``emails.admin``)."""

from conductor.admin import contact_pages, conversations, coupons, enrollments, steps, threads

__all__ = ["contact_pages", "conversations", "coupons", "enrollments", "steps", "threads"]
