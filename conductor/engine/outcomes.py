"""What a step unit decides for each enrollment it runs."""

from __future__ import annotations

from dataclasses import dataclass

from conductor.models import Step


@dataclass(frozen=True)
class Next:
    """Continue with the next step of the thread."""


@dataclass(frozen=True)
class AwaitEmail:
    """Go to the next step of the thread, but run it only once the email this
    step queued is sent (``Sending`` until then): should the email fail for
    good, the contact is held back here (``conductor.engine.email_outcomes``)."""


@dataclass(frozen=True)
class JumpTo:
    step: Step


@dataclass(frozen=True)
class Finish:
    """Leave the conversation (a Terminate, or a message that must not be sent)."""

    reason: str = ""
    skipped: bool = False  # the step did not do its work (e.g. an unsubscribed contact)


@dataclass(frozen=True)
class Hold:
    """Stop at this step with the reason shown; the visit runs again when resumed."""

    reason: str


Outcome = Next | AwaitEmail | JumpTo | Finish | Hold
NEXT = Next()
AWAIT_EMAIL = AwaitEmail()
