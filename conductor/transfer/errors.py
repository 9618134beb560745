"""The one error of export and import: every problem found, each naming its place."""

from __future__ import annotations


class TransferError(Exception):
    """Raised with every problem at once, so a file is fixed in one pass."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
