"""The built-in action kinds, in the order the Action step's form offers them
(``conductor.steps.built_in`` registers them)."""

from __future__ import annotations

from conductor.steps.actions.base import ActionKindUnit
from conductor.steps.actions.days_between import DaysBetween
from conductor.steps.actions.fire_event import FireEvent
from conductor.steps.actions.set_coupon import SetCoupon
from conductor.steps.actions.set_date import SetDate
from conductor.steps.actions.set_value import SetValue
from conductor.steps.actions.split_test import SplitTest

BUILT_IN_ACTIONS: tuple[ActionKindUnit, ...] = (
    SetCoupon(),
    SetValue(),
    SetDate(),
    DaysBetween(),
    SplitTest(),
    FireEvent(),
)
