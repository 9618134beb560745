"""Schemathesis against the served OpenAPI description: generated requests,
valid and not, never get a 500 or a response the description does not allow.

A bounded run (``FUZZ_EXAMPLES`` per operation, default 15) keeps it in the
suite; raise it locally for a deeper search.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_helpers import api_caller
from tests.factories import ContactFactory, EventFactory, ListFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
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

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def answers_as_described(case):
            if "listId" in (case.path_parameters or {}):
                # Reach past the list lookup; a list deletion takes a list of its own.
                deleting = case.method == "DELETE" and case.path.endswith("/List/{listId}")
                case.path_parameters["listId"] = ListFactory().pk if deleting else shop.pk
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            answers_as_described()
        except Exception as error:
            raise AssertionError(f"{operation.label}: {error}") from error
