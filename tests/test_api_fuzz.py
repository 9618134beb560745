"""Schemathesis against the served OpenAPI description: generated requests,
valid and not, never get a 500 or a response the description does not allow,
and every request the description calls invalid is refused.

A bounded run (``FUZZ_EXAMPLES`` per operation and kind of data, default 75)
keeps it in the suite, under two minutes on two cores; raise it locally for a
deeper search (300 takes about six and a half minutes).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.base import INT32_MAX
from tests.api_helpers import api_caller
from tests.factories import ContactFactory, EventFactory, ListFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "75"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served_schema(world, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis calls the app as localhost
    # As Django's test client does: a finished request must not close the
    # connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/email/v1/schema/?format=json", WSGIHandler())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, shop):
    """A list with a contact, an event and a token with every scope."""
    ContactFactory(list=shop, email="ada@example.com")
    EventFactory(list=shop, name="Purchase")
    return shop, api_caller().token


def test_the_api_answers_every_generated_request_as_its_description_says(served_schema, world):
    # Schemathesis' own pytest integration does not run under pytest 9, so the
    # operations are driven here, one Hypothesis search each.
    shop, token = world
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            search(operation, mode, shop, token)


def search(operation, mode: GenerationMode, shop, token: str) -> None:
    """One Hypothesis search of ``mode`` data for one operation. Invalid data
    must also be refused (``negative_data_rejection``); valid data may still
    be refused for what a description cannot say (a taken name, a cursor
    that no page wrote), so there is no check that it is accepted."""
    checks = CHECKS if mode is GenerationMode.POSITIVE else [*CHECKS, negative_data_rejection]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def answers_as_described(case):
        list_id = (case.path_parameters or {}).get("listId")
        if type(list_id) is int and 1 <= list_id <= INT32_MAX:  # not the invalid part
            # Reach past the list lookup; a list deletion takes a list of its own.
            deleting = case.method == "DELETE" and case.path.endswith("/List/{listId}")
            case.path_parameters["listId"] = ListFactory().pk if deleting else shop.pk
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

    try:
        answers_as_described()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # no input to get wrong
    except Exception as error:
        raise AssertionError(f"{operation.label} ({mode.value}): {error}") from error
