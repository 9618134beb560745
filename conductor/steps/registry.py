"""The registry of step kinds: every kind's unit by its stored ``kind``.

``ConductorConfig.ready`` registers the built-in units
(``conductor.steps.built_in``); another kind is added with ``register(unit)``
and needs no migration, since the database keeps no list of kinds:
``Step.kind``'s choices are ``kind_choices``.

This module imports no other module of the project, so the models can ask
it for their choices while the units (which import the models) register here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from conductor.steps.unit import StepKindUnit

#: ``Step.kind``'s length, so the longest name a kind may have.
MAX_KIND_LENGTH = 20


class Keyed(Protocol):
    @property
    def kind(self) -> str: ...


U = TypeVar("U", bound=Keyed)


class Registry(Generic[U]):
    """Units by ``kind``, in registration order (the built-in ones first)."""

    def __init__(self, what: str) -> None:
        self.what = what  # "step kind", "action kind": for messages
        self._units: dict[str, U] = {}

    def register(self, unit: U) -> U:
        """Add ``unit``; a kind already taken by another unit is refused."""
        if self._units.get(unit.kind, unit) is not unit:
            raise ValueError(f"The {self.what} {unit.kind!r} is already registered.")
        self._units[unit.kind] = unit
        return unit

    def unregister(self, kind: str) -> None:
        """Remove the unit of ``kind`` (tests; stored steps of it stay in the data)."""
        self._units.pop(kind, None)

    def find(self, kind: object) -> U | None:
        """The unit of ``kind``, or None (``kind`` may be anything a JSON setting holds)."""
        return self._units.get(kind) if isinstance(kind, str) else None

    def get(self, kind: str) -> U:
        """The unit of ``kind``; LookupError when none is registered."""
        unit = self.find(kind)
        if unit is None:
            raise LookupError(f"No {self.what} {kind!r} is registered.")
        return unit

    def all(self) -> list[U]:
        return list(self._units.values())


_steps: Registry[StepKindUnit] = Registry("step kind")


def register(unit: StepKindUnit) -> StepKindUnit:
    """Make ``unit``'s kind available to the admin, the engine, publishing,
    the diagram and transfer. Returns the unit."""
    if not 0 < len(unit.kind) <= MAX_KIND_LENGTH:
        raise ValueError(f"A step kind is 1 to {MAX_KIND_LENGTH} characters, not {unit.kind!r}.")
    return _steps.register(unit)


def unregister(kind: str) -> None:
    """Forget the unit of ``kind``; its stored steps get a stand-in (``unit_of``)."""
    _steps.unregister(kind)


def unit_for(kind: str) -> StepKindUnit:
    """The unit of a registered ``kind``; LookupError for another. For a
    stored step, whose kind may have been unregistered, use ``unit.unit_of``."""
    return _steps.get(kind)


def find_unit(kind: object) -> StepKindUnit | None:
    """The unit of ``kind``, or None when no unit is registered for it."""
    return _steps.find(kind)


def is_registered(kind: object) -> bool:
    """Whether a step of ``kind`` may be created (admin, import, ``Step.full_clean``)."""
    return find_unit(kind) is not None


def all_units() -> list[StepKindUnit]:
    """Every registered unit, the built-in ones first in their usual order."""
    return _steps.all()


def kind_choices() -> list[tuple[str, str]]:
    """``(kind, label)`` of every registered kind: ``Step.kind``'s choices."""
    return [(str(unit.kind), unit.label) for unit in all_units()]


def waiting_kinds() -> list[str]:
    """The kinds contacts wait at, which child threads may hang off."""
    return [unit.kind for unit in all_units() if unit.waits]


def sending_kinds() -> list[str]:
    """The kinds that email contacts."""
    return [unit.kind for unit in all_units() if unit.sends_messages]
