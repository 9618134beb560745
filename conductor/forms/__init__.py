"""The admin's forms: conversations and triggers, one form per step kind
whose fields write ``Step.settings``, and coupon pools with code uploads."""

from conductor.forms.base import StepForm
from conductor.forms.conversations import (
    ChildThreadForm,
    ConversationAddForm,
    MainThreadForm,
    TriggerForm,
)
from conductor.forms.coupons import CodeFile, CouponPoolForm, read_code_file
from conductor.forms.steps import STEP_FORMS, step_form_for

__all__ = [
    "STEP_FORMS",
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
