"""Calling the REST API as a Listrak client does: a token from /OAuth2/Token,
then JSON with a bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from api.scopes import Scope
from api.services import create_api_client

ALL_SCOPES = [s.value for s in Scope]


def fetch_token(client: Client, client_id: str, secret: str) -> dict[str, Any]:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = client.post(
        "/OAuth2/Token", urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200, response.content
    return response.json()


@dataclass
class ApiCaller:
    """A test client that speaks the API with one bearer token."""

    http: Client
    token: str

    def call(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, **extra: Any
    ) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **extra}
        if raw is None and body is not None:
            raw = json.dumps(body).encode()
        kwargs: dict[str, Any] = {}
        if raw is not None:
            kwargs = {"data": raw, "content_type": extra.pop("content_type", "application/json")}
            headers.pop("content_type", None)
        return getattr(self.http, method.lower())(f"/email/v1/{path}", **kwargs, **headers)

    def get(self, path: str, **extra: Any) -> Any:
        return self.call("GET", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("POST", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("PUT", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.call("DELETE", path, **extra)


def api_caller(scopes: list[str] | None = None, name: str = "test client") -> ApiCaller:
    """A new API client with ``scopes`` (all by default), and its token."""
    api_client, secret = create_api_client(name=name, scopes=scopes or ALL_SCOPES)
    http = Client()
    token = fetch_token(http, api_client.client_id, secret)["access_token"]
    return ApiCaller(http, token)


def assert_error(response: Any, status: int, code: str, *words: str) -> dict[str, Any]:
    """The response is Listrak's error shape with this status and code, and its
    message contains each of ``words``."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["status"] == status
    assert body["error"] == code, body
    for word in words:
        assert word in body["message"], body
    return body
