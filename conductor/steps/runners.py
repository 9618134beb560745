"""Each step kind's ``run(batch)``, by kind (``conductor.engine.runner`` calls them)."""

from __future__ import annotations

from collections.abc import Callable

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Outcome
from conductor.models import StepKind
from conductor.steps import action, go_to, message, terminate, wait

RUNNERS: dict[str, Callable[[StepBatch], dict[int, Outcome]]] = {
    StepKind.MESSAGE: message.run,
    StepKind.GO_TO: go_to.run,
    StepKind.ACTION: action.run,
    StepKind.WAIT: wait.run,
    StepKind.TERMINATE: terminate.run,
}
