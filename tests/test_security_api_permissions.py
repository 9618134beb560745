"""Who may use each API route: a bearer token with the route's scopes may
read and write; a signed-in staff session may only read, and only what its
model permissions let it view in the admin. Every refusal is Listrak's
401 ``ERROR_UNAUTHORIZED``, naming what is missing, and changes nothing."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission, User
from django.test import Client

from api.base import session_permissions
from api.scopes import Scope
from contacts.imports.models import ListImport
from emails.tracking.links import link_ids
from lists.models import EventGroup
from tests.api_helpers import ALL_SCOPES, api_caller
from tests.api_ops_content import content_operations
from tests.api_ops_library import library_operations
from tests.api_ops_messages import message_operations
from tests.api_ops_transactional import transactional_operations
from tests.factories import ContactFactory, EventFactory, ListFactory
from tests.tracking_helpers import publish_mailing

pytestmark = pytest.mark.django_db

#: The apps whose rows a refused request must leave as they were.
WATCHED_APPS = ("lists", "contacts", "emails", "conductor", "broadcasts", "integrations", "api")


def snapshot() -> dict[str, list[str]]:
    """Every row of the project's tables, to compare before and after."""
    return {
        model._meta.label: sorted(map(repr, model._default_manager.order_by("pk").values_list()))
        for app in WATCHED_APPS
        for model in apps.get_app_config(app).get_models()
    }


@dataclass
class Operation:
    method: str
    path: str
    body: Any = None
    success: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture
def world(shop):
    """One of everything the routes name, and every operation of the API
    with a body that succeeds."""
    field = shop.profile_fields.get(name="First Name")
    group = field.group
    event = EventFactory(list=shop, name="Purchase")
    event_group = EventGroup.objects.create(list=shop, name="Checkout")
    contact = ContactFactory(list=shop, email="ada@example.com")
    message = publish_mailing(shop)
    conversation = shop.conversations.get()
    spare = shop.field_groups.create(name="Spare", position=9)
    link = next(iter(link_ids(message).values()))
    doomed = ListFactory(name="Doomed")
    list_import = ListImport.objects.create(list=shop, file_name="spring.csv")
    csv = base64.b64encode(b"email\nbo@example.com\n").decode()

    lst = f"List/{shop.pk}"
    grp = f"{lst}/SegmentationFieldGroup/{group.pk}"
    conv = f"{lst}/Conversation/{conversation.pk}"
    msg = f"{conv}/Message/{message.pk}"
    imp = f"{lst}/ListImport/{list_import.pk}"
    # Each group of resources names its own operations (tests/api_ops_*.py).
    more = [
        Operation(*args)
        for builder in (library_operations, content_operations, transactional_operations)
        for args in builder(shop)
    ]
    more += [Operation(*args) for args in message_operations(shop)]
    operations = [
        Operation("GET", "List"),
        Operation(
            "POST",
            "List",
            {"listName": "New", "bounceHandling": "Standard", "bounceUnsubscribeCount": 3},
            201,
        ),
        Operation("GET", lst),
        Operation(
            "PUT",
            lst,
            {"listName": "Shop 2", "bounceHandling": "Standard", "bounceUnsubscribeCount": 3},
        ),
        Operation("DELETE", f"List/{doomed.pk}"),
        Operation("GET", f"{lst}/SegmentationFieldGroup"),
        Operation(
            "POST",
            f"{lst}/SegmentationFieldGroup",
            {"segmentationFieldGroupName": "X", "position": 2},
            201,
        ),
        Operation("GET", grp),
        Operation("PUT", grp, {"segmentationFieldGroupName": "About you", "position": 1}),
        Operation("GET", f"{grp}/SegmentationField"),
        Operation(
            "POST",
            f"{grp}/SegmentationField",
            {
                "segmentationFieldName": "Shoe Size",
                "dataType": "Numeric",
                "maxLength": 10,
                "position": 2,
            },
            201,
        ),
        Operation("GET", f"{grp}/SegmentationField/{field.pk}"),
        Operation(
            "PUT",
            f"{grp}/SegmentationField/{field.pk}",
            {
                "segmentationFieldName": "Given Name",
                "dataType": "Text",
                "maxLength": 50,
                "position": 0,
            },
        ),
        Operation("DELETE", f"{grp}/SegmentationField/{field.pk}/Values"),
        Operation("GET", f"{lst}/Event"),
        Operation("POST", f"{lst}/Event", {"eventName": "Wishlist", "status": "Active"}, 201),
        Operation("GET", f"{lst}/Event/{event.pk}"),
        Operation("PUT", f"{lst}/Event/{event.pk}", {"eventName": "Order", "status": "Active"}),
        Operation("GET", f"{lst}/EventGroup"),
        Operation("POST", f"{lst}/EventGroup", {"eventGroupName": "Browse"}, 201),
        Operation("GET", f"{lst}/EventGroup/{event_group.pk}"),
        Operation("PUT", f"{lst}/EventGroup/{event_group.pk}", {"eventGroupName": "Cart"}),
        Operation("GET", f"{lst}/Contact"),
        Operation("POST", f"{lst}/Contact", {"emailAddress": "cy@example.com"}, 201),
        Operation("GET", f"{lst}/Contact/{contact.email}"),
        Operation(
            "POST",
            f"{lst}/Contact/SegmentationField",
            [
                {
                    "emailAddress": contact.email,
                    "segmentationFieldValues": [{"segmentationFieldId": field.pk, "value": "Ada"}],
                }
            ],
            201,
        ),
        Operation("GET", f"{lst}/ListImport"),
        Operation(
            "POST",
            f"{lst}/ListImport",
            {
                "fileName": "more.csv",
                "fileStream": csv,
                "hasColumnNames": True,
                "importType": "AddSubscribers",
                "segmentationImportType": "Update",
                "fileDelimiter": ",",
                "fileMappings": [{"fileColumn": 0, "fileColumnType": "Email"}],
            },
            201,
        ),
        Operation("GET", imp),
        Operation("GET", f"{imp}/Status"),
        Operation("GET", f"{imp}/Summary"),
        Operation("GET", f"{imp}/Contact"),
        Operation("GET", f"{lst}/Conversation"),
        Operation("GET", conv),
        Operation("GET", f"{conv}/Summary"),
        Operation("GET", f"{conv}/Message"),
        Operation("GET", msg),
        Operation("GET", f"{msg}/Summary"),
        Operation("GET", f"{msg}/Link"),
        Operation("GET", f"{msg}/Link/{link}"),
        Operation("GET", f"{msg}/Activity"),
        Operation("GET", f"{msg}/Link/{link}/Clicker"),
        *more,
        # Deleted last: the group the operations above use.
        Operation("DELETE", f"{lst}/EventGroup/{event_group.pk}"),
        Operation("DELETE", f"{lst}/SegmentationFieldGroup/{spare.pk}"),
    ]
    return operations


def _view_of(path: str) -> Any:
    from django.urls import resolve

    view: Any = resolve(f"/email/v1/{path}").func  # as_view() gives it view_class
    return view.view_class


def _call(client: Client, operation: Operation, **headers: Any) -> Any:
    import json

    kwargs: dict[str, Any] = {}
    if operation.body is not None:
        kwargs = {"data": json.dumps(operation.body), "content_type": "application/json"}
    return getattr(client, operation.method.lower())(
        f"/email/v1/{operation.path}", **kwargs, **headers
    )


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def _session(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client) -> dict[str, str]:
    # What a page of the site gives a browser: a CSRF cookie and its token, so
    # that the refusals below are the API's, not the CSRF check's.
    secret = "s" * 32
    client.cookies["csrftoken"] = secret
    return {"HTTP_X_CSRFTOKEN": secret}


def test_every_route_of_the_api_is_in_the_table(world):
    from api.urls import urlpatterns

    served = {p.pattern.regex.pattern for p in urlpatterns if hasattr(p.callback, "view_class")}
    served -= {p.pattern.regex.pattern for p in urlpatterns if "schema" in str(p.pattern)}
    covered = {
        next(p.pattern.regex.pattern for p in urlpatterns if p.pattern.regex.match(o.path))
        for o in world
    }
    assert served <= covered, served - covered


def test_a_staff_session_without_permissions_is_refused_everywhere_and_changes_nothing(world):
    client = _session(_staff("intern"))
    headers = _csrf(client)
    before = snapshot()
    for operation in world:
        response = _call(client, operation, **headers)
        assert response.status_code == 401, (str(operation), response.content)
        assert response.json()["error"] == "ERROR_UNAUTHORIZED", str(operation)
    assert snapshot() == before


def test_a_staff_session_reads_what_its_view_permissions_allow_and_never_writes(world):
    every_view = {p for op in world for p in session_permissions(_view_of(op.path))}
    client = _session(_staff("analyst", *every_view))
    headers = _csrf(client)
    before = snapshot()
    for operation in world:
        response = _call(client, operation, **headers)
        if operation.method == "GET":
            assert response.status_code == 200, (str(operation), response.content)
        else:
            assert response.status_code == 401, (str(operation), response.content)
            assert "only read" in response.json()["message"], str(operation)
    assert snapshot() == before


def test_a_staff_session_needs_each_view_permission_the_route_reads(world):
    reads = [op for op in world if op.method == "GET"]
    for operation in reads:
        needed = session_permissions(_view_of(operation.path))
        for missing in needed:
            user = _staff(f"u{abs(hash((str(operation), missing)))}", *set(needed) - {missing})
            response = _call(_session(user), operation)
            assert response.status_code == 401, (str(operation), missing)
            assert missing in response.json()["message"], (str(operation), response.json())


def test_the_issues_four_calls_by_a_permissionless_session_are_refused(shop):
    """The audit's reproduction: GET and POST contacts, POST a list, DELETE a list."""
    client = _session(_staff("intern"))
    headers = _csrf(client)
    before = snapshot()
    assert client.get(f"/email/v1/List/{shop.pk}/Contact").status_code == 401
    post = {"data": '{"emailAddress": "x@example.com"}', "content_type": "application/json"}
    assert client.post(f"/email/v1/List/{shop.pk}/Contact", **post, **headers).status_code == 401
    new_list = {"data": '{"listName": "Mine"}', "content_type": "application/json"}
    assert client.post("/email/v1/List", **new_list, **headers).status_code == 401
    assert client.delete(f"/email/v1/List/{shop.pk}", **headers).status_code == 401
    assert snapshot() == before


def test_a_token_with_the_routes_scopes_does_every_operation(world):
    caller = api_caller(ALL_SCOPES)
    failed = []
    for operation in world:
        response = _call(caller.http, operation, HTTP_AUTHORIZATION=f"Bearer {caller.token}")
        if response.status_code != operation.success:
            failed.append((str(operation), response.status_code, response.content[:300]))
    assert failed == [], "\n".join(map(str, failed))


@pytest.mark.parametrize("scope", [s.value for s in Scope])
def test_a_token_without_one_scope_is_refused_the_routes_that_need_it(world, scope):
    caller = api_caller([s for s in ALL_SCOPES if s != scope], name=f"without {scope}")
    before = snapshot()
    refused = 0
    for operation in world:
        if scope not in _view_of(operation.path).required_scopes:
            continue
        response = _call(caller.http, operation, HTTP_AUTHORIZATION=f"Bearer {caller.token}")
        assert response.status_code == 401, (str(operation), response.content)
        assert scope in response.json()["message"], str(operation)
        refused += 1
    assert refused > 0
    assert snapshot() == before


def test_no_credentials_at_all_is_a_401_everywhere(world):
    before = snapshot()
    for operation in world:
        response = _call(Client(), operation)
        assert response.status_code == 401, (str(operation), response.content)
    assert snapshot() == before
