"""HTTP at its edges, through real servers: a method a route lacks, a chunked
body, the webhook's bearer scheme, a token for a scope the client lacks; and
the served OpenAPI description saying exactly what the server checks."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

import pytest
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.db import connection
from django.test import Client
from django.urls import resolve

from api.base import INT32_MAX
from api.paging import MAX_COUNT
from api.services import create_api_client
from conductor.models import Conversation
from contacts.models import Contact
from lists.models import List, time_zone_names
from tests.api_helpers import api_caller, assert_error
from tests.factories import ContactFactory
from tests.tracking_helpers import publish_mailing

ROOT = Path(__file__).resolve().parent.parent
FEEDBACK_SECRET = "feedback-secret-" + "s" * 16
#: The gunicorn process's API_MAX_BODY_BYTES and API_MAX_IMPORT_BYTES (the
#: largest body it reads), small enough to cross in a test.
MAX_BODY = 2048
MAX_IMPORT = 4096


# --- Real servers ----------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(address: tuple[str, int], raw: bytes, *, timeout: float = 30) -> Answer:
    """Send ``raw`` bytes on a new connection; read the one answer."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, response.headers, response.read())


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked(*chunks: bytes, last: bool = True) -> bytes:
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return encoded + (b"0\r\n\r\n" if last else b"")


def database_url_of_this_run() -> str:
    """DATABASE_URL of the database this test run created (SQLite or PostgreSQL)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        assert Path(db["NAME"]).is_absolute(), "a subprocess needs the test database's file"
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "localhost", safe="")
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


@pytest.fixture(scope="module")
def gunicorn(django_db_setup: None) -> Iterator[tuple[str, int]]:
    """The site as production serves it: a gunicorn process (README, "Running
    in production") on ``config.wsgi:application``, on the test database.

    A real process rather than gunicorn's worker in a thread: decoding the
    chunks is gunicorn's own work and the fix lives in its WSGI entry point,
    so both are tested as they run. It shares the test database the way two
    processes do, by committed rows, so the tests that use it commit theirs
    (``transaction=True``).
    """
    extra = {
        "EMAIL_FEEDBACK_SECRET": FEEDBACK_SECRET,
        "API_MAX_BODY_BYTES": str(MAX_BODY),
        "API_MAX_IMPORT_BYTES": str(MAX_IMPORT),
        "API_TOKEN_CACHE_SECONDS": "0",
    }
    with gunicorn_serving(extra, workers=1, ready=("/email/v1/not-a-route", 404)) as address:
        yield address


@contextlib.contextmanager
def gunicorn_serving(
    extra_env: dict[str, str], *, workers: int, ready: tuple[str, int]
) -> Iterator[tuple[str, int]]:
    """A gunicorn process with ``workers`` workers on ``config.wsgi`` and the
    test database, its environment plus ``extra_env``; yields its address
    once a GET of ``ready``'s path answers ``ready``'s status. The listening
    socket is made here and handed over (``fd://``), so no other process can
    take the port in between."""
    listener = socket.create_server(("127.0.0.1", 0))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_of_this_run(),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        **extra_env,
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers"]
    command += [str(workers), "--bind", f"fd://{listener.fileno()}", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[listener.fileno()])
    address = listener.getsockname()[:2]
    try:
        # The socket already listens, so this waits in its queue until gunicorn is up.
        path, status = ready
        answer = exchange(address, request_bytes("GET", path, {}), timeout=60)
        assert answer.status == status, (answer.status, answer.body)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        listener.close()


@pytest.fixture
def runserver_address() -> Iterator[tuple[str, int]]:
    """``config.wsgi:application`` behind the server classes of Django's
    ``runserver`` (wsgiref), in a thread: a server that does not decode chunks."""
    import config.wsgi

    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(config.wsgi.application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cast(tuple[str, int], server.server_address[:2])  # an IPv4 address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- A method the route does not have --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_put_without_a_body_to_a_route_without_put_is_405_with_allow(gunicorn):
    token = api_caller().token
    answer = exchange(
        gunicorn, request_bytes("PUT", "/email/v1/List", {"Authorization": f"Bearer {token}"})
    )
    assert answer.status == 405, answer.body
    assert answer.json() == {
        "status": 405,
        "error": "ERROR_UNSUPPORTED_METHOD",
        "message": "The route does not support the PUT method.",
    }
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "PUT" not in answer.headers["Allow"]


@pytest.mark.django_db(transaction=True)
def test_a_method_the_route_lacks_is_405_before_its_body_is_judged(gunicorn):
    """Neither a wrong content type (415) nor a body over the limit (413) comes first."""
    token = api_caller().token
    email_list = List.objects.create(name="Shop")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    body = b"x" * (MAX_BODY + 1)
    path = f"/email/v1/List/{email_list.pk}/Contact/ada@example.com"
    answer = exchange(
        gunicorn, request_bytes("PATCH", path, {**headers, "Content-Length": str(len(body))}, body)
    )
    assert answer.status == 405, answer.body
    assert answer.json()["error"] == "ERROR_UNSUPPORTED_METHOD"
    assert answer.headers["Allow"]


# --- Chunked request bodies -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_contact_posted_with_a_chunked_body_is_created(gunicorn):
    token = api_caller().token
    email_list = List.objects.create(name="Shop")
    body = json.dumps({"emailAddress": "ada@example.com"}).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    path = f"/email/v1/List/{email_list.pk}/Contact"
    answer = exchange(gunicorn, request_bytes("POST", path, headers, chunked(body[:10], body[10:])))
    assert answer.status == 201, answer.body
    assert answer.json() == {"status": 201, "resourceId": "ada@example.com"}
    assert Contact.objects.filter(list=email_list, email="ada@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_413_without_waiting_for_its_end(gunicorn):
    """The body never ends (no last chunk): an answer at all shows the server
    stopped reading at the limit instead of reading on."""
    token = api_caller().token
    email_list = List.objects.create(name="Shop")
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    body = chunked(b" " * MAX_IMPORT, b"{}", last=False)
    path = f"/email/v1/List/{email_list.pk}/ListImport"
    answer = exchange(gunicorn, request_bytes("POST", path, headers, body), timeout=20)
    assert answer.status == 413, answer.body
    assert answer.json()["error"] == "ERROR_MALFORMED_REQUEST_BODY"
    assert f"{MAX_IMPORT:,} bytes" in answer.json()["message"]


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_within_the_site_limit_still_meets_the_routes_own_limit(gunicorn):
    token = api_caller().token
    email_list = List.objects.create(name="Shop")
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    body = json.dumps({"emailAddress": "ada@example.com", "externalContactID": "x" * MAX_BODY})
    path = f"/email/v1/List/{email_list.pk}/Contact"
    answer = exchange(gunicorn, request_bytes("POST", path, headers, chunked(body.encode())))
    assert answer.status == 413, answer.body
    assert f"{MAX_BODY:,} bytes" in answer.json()["message"]
    assert not Contact.objects.exists()


def test_a_server_that_does_not_decode_chunks_answers_411_not_an_empty_body(runserver_address):
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    raw = request_bytes("POST", "/email/v1/List", headers, chunked(b'{"listName": "Shop"}'))
    answer = exchange(runserver_address, raw)
    assert answer.status == 411, answer.body
    assert answer.json()["error"] == "ERROR_MALFORMED_REQUEST_BODY"
    assert "Content-Length" in answer.json()["message"]


# --- The email feedback webhook's bearer scheme ---------------------------------


def feedback(address: tuple[str, int], authorization: str) -> Answer:
    body = json.dumps({"events": []}).encode()
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
    }
    return exchange(address, request_bytes("POST", "/webhooks/email-feedback/", headers, body))


def test_the_feedback_webhook_refuses_its_secret_without_the_bearer_scheme(gunicorn):
    for authorization in (FEEDBACK_SECRET, f"Basic {FEEDBACK_SECRET}", f"Bearer{FEEDBACK_SECRET}"):
        answer = feedback(gunicorn, authorization)
        assert answer.status == 401, (authorization, answer.body)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_feedback_webhook_reads_the_bearer_scheme_in_any_case(gunicorn):
    for scheme in ("Bearer", "bearer", "BEARER"):
        answer = feedback(gunicorn, f"{scheme} {FEEDBACK_SECRET}")
        # Past the secret: the (empty) batch itself is what is refused.
        assert answer.status == 400, (scheme, answer.body)
        assert "Send one report" in answer.json()["errors"][0]


# --- A token for a scope the client lacks -----------------------------------------


@pytest.mark.django_db
def test_a_token_request_for_a_scope_the_client_lacks_names_it_and_the_clients_scopes():
    client, secret = create_api_client(name="Shop site", scopes=["Contact", "List"])
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": secret,
        "scope": "Contact Report Event",
    }
    response = Client().post(
        "/OAuth2/Token", urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_scope"
    assert "Report, Event" in body["error_description"]
    assert "its scopes are Contact, List" in body["error_description"]
    assert body["message"] == body["error_description"]


# --- The served description against the server's checks -------------------------


@pytest.fixture
def description() -> dict[str, Any]:
    response = Client().get("/email/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(description: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in description["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method.upper(), path, operation


@pytest.mark.django_db
def test_every_count_in_the_description_is_bounded_as_the_server_reads_it(description, api, shop):
    paged = [
        (path, op)
        for m, path, op in operations(description)
        for p in op.get("parameters", [])
        if p["name"] == "count"
    ]
    assert len(paged) >= 5
    for path, operation in paged:
        (count,) = [p for p in operation["parameters"] if p["name"] == "count"]
        assert count["schema"]["type"] == "integer", path
        assert (count["schema"]["minimum"], count["schema"]["maximum"]) == (1, MAX_COUNT), path
    ContactFactory(list=shop, email="ada@example.com")
    assert api.get(f"List/{shop.pk}/Contact?count={MAX_COUNT}").status_code == 200
    assert api.get(f"List/{shop.pk}/Contact?count=1").status_code == 200
    for outside in (0, MAX_COUNT + 1):
        assert_error(
            api.get(f"List/{shop.pk}/Contact?count={outside}"),
            400,
            "ERROR_INVALID_PARAMETER",
            "count",
        )


@pytest.mark.django_db
def test_the_description_lists_exactly_the_time_zones_a_list_may_have(description, api):
    schemas = description["components"]["schemas"]
    for name in ("List", "ListRequest"):
        zone = schemas[name]["properties"]["timeZone"]
        ref = zone.get("$ref") or zone["allOf"][0]["$ref"]
        enum = schemas[ref.rsplit("/", 1)[-1]]["enum"]
        assert set(enum) == time_zone_names(), name
    assert "America/New_York" in enum
    new_list = {"bounceHandling": "Standard", "bounceUnsubscribeCount": 3}
    created = api.post("List", {**new_list, "listName": "Paris", "timeZone": "Europe/Paris"})
    assert created.status_code == 201, created.content
    # Files ZoneInfo would open, but no zone's name: not in the enum, so refused.
    for outside in ("posix/Europe/Paris", "right/UTC", " UTC", "utc"):
        assert outside not in enum
        response = api.post("List", {**new_list, "listName": outside, "timeZone": outside})
        assert_error(response, 400, "ERROR_INVALID_PARAMETER", "timeZone")


def test_every_email_address_in_the_description_has_format_email(description):
    found = 0
    for name, schema in description["components"]["schemas"].items():
        for prop, value in schema.get("properties", {}).items():
            if prop.lower().endswith("emailaddress"):
                assert value.get("format") == "email", (name, prop, value)
                found += 1
    assert found >= 5


def error_requests(
    path: str, operation: dict[str, Any], shop: List, method: str = "GET"
) -> dict[int, tuple[str, dict[str, Any], bool]]:
    """For each error status a request to this operation can get, one such
    request: its URL, test client arguments, and whether it carries the token.
    401 always; 400 when a path id or a body can be wrong; 404 when the path
    names a resource; 413 and 415 when it takes a body."""
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]

    def url(**values: str) -> str:
        filled = path
        for name in names:
            default = "nobody@example.com" if name == "contactIdentifier" else "1"
            filled = filled.replace("{" + name + "}", values.get(name, default))
        return filled

    own = url(listId=str(shop.pk))
    # A route may take an optional body the description does not spell out
    # (a saved message's send takes none, or {}): its 415 says it reads one.
    takes_body = "requestBody" in operation or "415" in operation["responses"]
    body = {"data": b"{}", "content_type": "application/json"} if takes_body else {}
    # A POST without a body, as clients send it: no data at all, not an empty form.
    writes = method in ("POST", "PUT")
    bare = body or ({"data": b"", "content_type": "application/json"} if writes else {})
    requests = {401: (own, bare, False)}
    if names:
        zero = {n: "0" for n in names if n != "contactIdentifier"}
        requests[400] = (url(**zero), bare, True)  # ids are positive
        missing = {n: str(INT32_MAX) for n in names if n != "contactIdentifier"}
        requests[404] = (url(**missing), bare, True)
    elif body:
        requests[400] = (own, {**body, "data": b"[]"}, True)
    if body:
        view: Any = resolve(own).func  # as_view() gives it view_class
        limit = view.view_class.max_body_bytes
        requests[413] = (own, {**body, "data": b" " * (limit + 1)}, True)
        requests[415] = (own, {**body, "content_type": "text/plain"}, True)
    return requests


@pytest.mark.django_db
def test_every_error_status_the_description_declares_is_one_the_server_answers(
    description, api, shop
):
    """Each operation declares exactly the error statuses a request can get
    from it (``error_requests``), and a request gets each one."""
    anonymous = Client()
    for method, path, operation in operations(description):
        declared = {int(code) for code in operation["responses"] if int(code) >= 400}
        # 503: the mail server failing a test message, made to happen in
        # tests/test_api_messages.py (it needs a mail server that is down).
        declared.discard(503)
        requests = error_requests(path, operation, shop, method)
        assert declared == set(requests), (method, path)
        for status, (url, kwargs, with_token) in requests.items():
            http = api.http if with_token else anonymous
            headers = {"HTTP_AUTHORIZATION": f"Bearer {api.token}"} if with_token else {}
            response = getattr(http, method.lower())(url, **kwargs, **headers)
            assert response.status_code == status, (method, url, response.content[:300])
            assert response.json()["status"] == status


# --- What the fuzzing found ----------------------------------------------------------


def cursor_of(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.django_db
def test_a_hand_made_cursor_holding_what_no_page_writes_is_refused_not_a_server_error(api, shop):
    """A cursor is opaque base64 JSON, but the client can write one: a value
    of the wrong type, too large for the database, or text with a NUL must be
    a 400 naming the cursor, on text keys (contacts) and number keys alike."""
    ContactFactory(list=shop, email="ada@example.com")
    publish_mailing(shop)
    conversation = Conversation.objects.get(list=shop)
    wrong_anywhere = [[None], [[1]], [True], [1, 2], {"a": 1}]
    paged = {
        f"List/{shop.pk}/Contact": [[1], [2**64], ["a\x00b"]],  # keyed by address
        f"List/{shop.pk}/Conversation/{conversation.pk}/Message": [["1"], [2**64], [-1]],
    }
    for path, wrong_here in paged.items():
        assert api.get(f"{path}?count=1").status_code == 200
        for values in wrong_anywhere + wrong_here:
            response = api.get(f"{path}?cursor={cursor_of(values)}")
            assert_error(response, 400, "ERROR_INVALID_PARAMETER", "cursor")


@pytest.mark.django_db
def test_a_bad_use_original_subscribe_date_is_refused_even_with_no_date_to_apply_it_to(api, shop):
    response = api.get(f"List/{shop.pk}/Contact?useOriginalSubscribeDate=maybe")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "useOriginalSubscribeDate")
