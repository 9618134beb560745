"""What the apps above ``contacts`` add to ``seed_demo``'s list (Conductor:
its demo conversations and their history). Each adder is called with the
list and a function that prints a line for the user, after the list and its
contacts are committed."""

from __future__ import annotations

from collections.abc import Callable

from lists.models import List

DemoAdder = Callable[[List, Callable[[str], None]], None]

_adders: list[DemoAdder] = []


def add_to_demo(adder: DemoAdder) -> None:
    """Have ``seed_demo`` call ``adder`` (once per process; again is a no-op)."""
    if adder not in _adders:
        _adders.append(adder)


def seed_more(email_list: List, say: Callable[[str], None]) -> None:
    for adder in _adders:
        adder(email_list, say)
