"""Conductor's models, one module per part of the domain: conversations and
their versions, threads and steps (``conversations``); the enrollments that
carry each contact through (``enrollments``); messages and their deliveries
(``messages``); coupon pools (``coupons``). Every model is imported here, as
Django's app registry requires of a models package (SPEC section 4)."""

from conductor.models.conversations import (
    ChildEvent,
    Conversation,
    ConversationStatus,
    Step,
    StepKind,
    Thread,
    Trigger,
    TriggerKind,
    Version,
)
from conductor.models.coupons import Coupon, CouponKind, CouponPool
from conductor.models.enrollments import (
    INSIDE,
    Enrollment,
    EnrollmentState,
    StepOutcome,
    StepRun,
)
from emails.models import (
    MAY_HAVE_GONE_OUT,
    Delivery,
    DeliveryStatus,
    Message,
    MessageLink,
)

__all__ = [
    "INSIDE",
    "MAY_HAVE_GONE_OUT",
    "ChildEvent",
    "Conversation",
    "ConversationStatus",
    "Coupon",
    "CouponKind",
    "CouponPool",
    "Delivery",
    "DeliveryStatus",
    "Enrollment",
    "EnrollmentState",
    "Message",
    "MessageLink",
    "Step",
    "StepKind",
    "StepOutcome",
    "StepRun",
    "Thread",
    "Trigger",
    "TriggerKind",
    "Version",
]
