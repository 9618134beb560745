"""The registry of action kinds, by their stored ``settings["action"]``
(the built-in ones are registered with the built-in step kinds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conductor.steps.registry import Registry

if TYPE_CHECKING:
    from conductor.steps.actions.base import ActionKindUnit

_actions: Registry[ActionKindUnit] = Registry("action kind")


def register_action(unit: ActionKindUnit) -> ActionKindUnit:
    """Offer ``unit`` in Action steps. Returns the unit."""
    return _actions.register(unit)


def unregister_action(kind: str) -> None:
    """Forget the action ``kind``; steps using it fail their check."""
    _actions.unregister(kind)


def action_for(kind: object) -> ActionKindUnit | None:
    """The action of ``kind`` (any value a setting holds), or None."""
    return _actions.find(kind)


def all_actions() -> list[ActionKindUnit]:
    """Every registered action, the built-in ones first."""
    return _actions.all()
