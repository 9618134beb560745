"""The Conductor admin, which is the workflow editor: conversations (the
working version's threads and steps, triggers, diagram, publishing, counts),
threads with drag-and-drop step order, steps with per-kind forms, messages,
coupon pools with code uploads, and enrollments."""

from conductor.admin import content, conversations, coupons, steps, threads

__all__ = ["content", "conversations", "coupons", "steps", "threads"]
