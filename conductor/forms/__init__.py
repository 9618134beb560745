"""The admin's forms: conversations and triggers, the step form every step
kind's form builds on (each kind's own form lives in its unit,
``conductor.steps``), and coupon pools with code uploads."""

from conductor.forms.base import StepForm
from conductor.forms.conversations import (
    ChildThreadForm,
    ConversationAddForm,
    MainThreadForm,
    TriggerForm,
)
from conductor.forms.coupons import CodeFile, CouponPoolForm, read_code_file
from conductor.forms.steps import step_form_for

__all__ = [
    "ChildThreadForm",
    "CodeFile",
    "ConversationAddForm",
    "CouponPoolForm",
    "MainThreadForm",
    "StepForm",
    "TriggerForm",
    "read_code_file",
    "step_form_for",
]
