"""The Conductor admin, which is the workflow editor: conversations (the
working version's threads and steps, triggers, diagram, publishing, counts),
threads with drag-and-drop step order, steps with per-kind forms, messages,
coupon pools with code uploads, enrollments, and deliveries (the emails
sent, and those a crash left uncertain)."""

from conductor.admin import content, conversations, coupons, deliveries, steps, threads

__all__ = ["content", "conversations", "coupons", "deliveries", "steps", "threads"]
