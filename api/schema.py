"""Shape the served OpenAPI description like Listrak's: its path names
(``/email/v1/List/{listId}/Contact``, no trailing slash) and its path
parameters (camelCase, ids as 32-bit integers)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from api.base import INT32_MAX
from api.scopes import SCOPE_DESCRIPTIONS

#: Route parameters whose Listrak name is not simply their camelCase.
_LISTRAK_NAMES = {"identifier": "contactIdentifier", "import_id": "importFileId"}
_PARAM = re.compile(r"\{(\w+)\}")


def listrak_name(name: str) -> str:
    if name in _LISTRAK_NAMES:
        return _LISTRAK_NAMES[name]
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _path_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    name = listrak_name(parameter["name"])
    renamed = {**parameter, "name": name, "required": True}
    if name.endswith("Id"):
        renamed["schema"] = {
            "type": "integer",
            "format": "int32",
            "minimum": 1,
            "maximum": INT32_MAX,
        }
        renamed.setdefault("description", f"Identifier used to locate the resource ({name}).")
    return renamed


def listrak_paths(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    paths: dict[str, Any] = {}
    for path, operations in result.get("paths", {}).items():
        new_path = _PARAM.sub(lambda m: "{" + listrak_name(m.group(1)) + "}", path)
        if new_path.endswith("/") and not new_path.endswith("/v1/"):
            new_path = new_path[:-1]
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            seen: set[tuple[str, str]] = set()
            parameters = []
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter = _path_parameter(parameter)
                elif parameter.get("in") == "query":
                    # Every query parameter reads an empty value (``?count=``) as absent.
                    parameter = {**parameter, "allowEmptyValue": True}
                key = (parameter["name"], parameter["in"])
                if key not in seen:
                    seen.add(key)
                    parameters.append(parameter)
            if parameters:
                operation["parameters"] = parameters
        paths[new_path] = operations
    result["paths"] = paths
    # Bodies refuse fields they do not know (api.serializers.ApiSerializer); say so.
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


class BearerScheme(OpenApiAuthenticationExtension):
    """The OAuth 2.0 client-credentials scheme, with each route's scopes."""

    target_class = "api.base.BearerAuthentication"
    name = "OAuth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "/OAuth2/Token", "scopes": SCOPE_DESCRIPTIONS}
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
        return {self.name: [str(s) for s in getattr(auto_schema.view, "required_scopes", ())]}
