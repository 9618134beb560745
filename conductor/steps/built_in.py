"""The built-in step kinds and action kinds, registered by
``ConductorConfig.ready`` (their units import the models, so they cannot be
registered while the models load)."""

from __future__ import annotations

from conductor.steps.action import ActionUnit
from conductor.steps.actions.built_in import BUILT_IN_ACTIONS
from conductor.steps.actions.registry import register_action
from conductor.steps.go_to import GoToUnit
from conductor.steps.message import MessageUnit
from conductor.steps.registry import register
from conductor.steps.terminate import TerminateUnit
from conductor.steps.unit import StepKindUnit
from conductor.steps.wait import WaitUnit

#: In the order the admin and the transfer format list them.
BUILT_IN: tuple[StepKindUnit, ...] = (
    MessageUnit(),
    GoToUnit(),
    ActionUnit(),
    WaitUnit(),
    TerminateUnit(),
)


def register_built_in() -> None:
    """Register the built-in step kinds and action kinds (once per process;
    registering the same unit again changes nothing)."""
    for unit in BUILT_IN:
        register(unit)
    for action in BUILT_IN_ACTIONS:
        register_action(action)
