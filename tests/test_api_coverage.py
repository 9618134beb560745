"""The served OpenAPI description against Listrak's reference: every one of
its 83 operations, at its path and method, under its operationId, asking
for its scopes, taking its parameters and its body; and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

REFERENCE = "/work/shared/reference/listrak-email-api-v1.swagger.json"
METHODS = ("get", "post", "put", "patch", "delete")

#: Where the reference's ``security`` block names no scope, the scope this
#: server asks for: the Contact routes are Listrak's "Contact" area (the
#: reference leaves their block empty; SPEC section 7 gives the area a
#: scope, and tokens without it are refused them).
SCOPES_NOT_IN_THE_REFERENCE = {
    "Contact_GetContactCollection": ["Contact"],
    "Contact_PostContactResource": ["Contact"],
    "Contact_GetContactResourceByIdentifier": ["Contact"],
    "ContactSegmentationField_PostContactSegmentationFieldValuesResource": ["Contact"],
}
#: Reference parameters this server does not take, and why.
PARAMETERS_NOT_SERVED = {
    # The reference lists paging parameters, yet answers with a Collection,
    # not a CollectionPaged: a list's imports come in one answer.
    "ListImport_GetListImportCollection": {("cursor", "query"), ("count", "query")},
}

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    with open(REFERENCE) as file:
        return json.load(file)


@pytest.fixture
def served() -> dict[str, Any]:
    response = Client().get("/email/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def reference_operations(reference: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(METHOD, /email/v1/path): operation}`` of the reference."""
    return {
        (method.upper(), f"/email{path}"): operation
        for path, operations in reference["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    }


def served_operations(served: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, operations in served["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    }


def test_the_reference_has_83_operations(reference):
    assert len(reference_operations(reference)) == 83


def test_every_operation_is_served_at_its_path_under_its_operation_id_and_nothing_else(
    reference, served
):
    wanted = {
        (method, path, operation["operationId"])
        for (method, path), operation in reference_operations(reference).items()
    }
    found = {
        (method, path, operation.get("operationId"))
        for (method, path), operation in served_operations(served).items()
    }
    missing = sorted(wanted - found)
    assert missing == [], "not served:\n" + "\n".join(" ".join(m) for m in missing)
    assert sorted(found - wanted) == []


def test_each_operation_asks_for_the_reference_scopes(reference, served):
    served_by_key = served_operations(served)
    wrong = []
    for key, operation in reference_operations(reference).items():
        if key not in served_by_key:
            continue  # the test above names it
        operation_id = operation["operationId"]
        wanted = sorted(next(iter(operation["security"][0].values())))
        wanted = SCOPES_NOT_IN_THE_REFERENCE.get(operation_id, wanted)
        (requirement,) = served_by_key[key]["security"]
        scopes = sorted(requirement["OAuth2"])
        if scopes != wanted:
            wrong.append(f"{operation_id}: {scopes}, not {wanted}")
    assert wrong == [], "\n".join(wrong)


def test_each_operation_takes_the_reference_parameters_and_body(reference, served):
    served_by_key = served_operations(served)
    wrong = []
    for key, operation in reference_operations(reference).items():
        if key not in served_by_key:
            continue
        operation_id = operation["operationId"]
        mine = served_by_key[key]
        parameters = operation.get("parameters", [])
        wanted = {(p["name"], p["in"]) for p in parameters if p["in"] != "body"}
        wanted -= PARAMETERS_NOT_SERVED.get(operation_id, set())
        taken = {(p["name"], p["in"]) for p in mine.get("parameters", [])}
        if wanted - taken:
            wrong.append(f"{operation_id} lacks {sorted(wanted - taken)}")
        has_body = any(p["in"] == "body" for p in parameters)
        if has_body != ("requestBody" in mine):
            wrong.append(f"{operation_id}: a body {'expected' if has_body else 'not expected'}")
    assert wrong == [], "\n".join(wrong)
