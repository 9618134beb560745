"""Listrak's ``Filter`` shape, parsed and validated into a typed tree.

A filter is either one comparison on a profile field or a set of nested
``filters``, never both and never neither. Decisions where the reference is
silent or loose:

- The field is named by ``segmentationFieldId`` or by ``segmentationField``
  (case-insensitive; field names are unique per list, so
  ``segmentationFieldGroup`` is optional but must match when given).
- ``joinType`` is required on the 2nd and later filters of a set. On the first
  (and on the top-level filter) ``And``/``Or`` are accepted and ignored, as the
  reference says; ``AndNot``/``OrNot`` there are refused, because ignoring the
  negation would silently select the opposite contacts.
- A set is read left to right: each filter is joined to the result of all the
  filters before it (``a Or b And c`` is ``(a Or b) And c``); nest for any
  other grouping.
- ``Empty``/``NotEmpty`` (used by the reference's own example) are accepted as
  ``IsEmpty``/``IsNotEmpty``; key and enum names are case-insensitive.
- Values are cleaned with ``lists.field_types.clean_value`` and kept in their
  canonical stored form. Between takes its two bounds in either order.
- Ordering comparisons apply to Numeric and Date fields; Contains to text;
  Checked/NotChecked to CheckBox; RadioOn/RadioOff to RadioButton.

Beyond Listrak, a filter may be an engagement condition on the emails of the
criteria's conversation (``conductor.filters.engagement``), e.g.
``{"engagement": "NotClicked", "message": 12, "withinDays": 30}``, wherever a
comparison may be; it counts toward ``MAX_CONDITIONS`` like one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from conductor.filters.criteria import (
    APPLIES_TO,
    COMMA_LISTS,
    VALUES_NEEDED,
    C,
    CompareType,
    Condition,
    Criteria,
    FilterSet,
    JoinType,
    Node,
)
from conductor.filters.engagement import KEYS as ENGAGEMENT_KEYS
from conductor.filters.engagement import EngagementReader
from lists.field_types import clean_value
from lists.models import DataType, List, ProfileField, ProfileFieldGroup
from lists.profile_schema import ProfileSchema

MAX_DEPTH = 10  # nested sets; deeper is a mistake, and SQL expressions have depth limits
MAX_CONDITIONS = 200  # comparisons in one criteria tree

_COMPARE_NAMES = {c.value.lower(): c for c in CompareType} | {
    "empty": C.IS_EMPTY,
    "notempty": C.IS_NOT_EMPTY,
}
_JOIN_NAMES = {j.value.lower(): j for j in JoinType}
_KEYS = {
    key.lower(): key
    for key in (
        "segmentationFieldGroup",
        "segmentationField",
        "segmentationFieldId",
        "joinType",
        "compareType",
        "values",
        "filters",
        *ENGAGEMENT_KEYS,
    )
}
_LEAF_KEYS = ("segmentationFieldGroup", "segmentationField", "segmentationFieldId", "compareType")


def parse_criteria(
    email_list: List, data: Mapping[str, Any], *, conversation_id: int | None = None
) -> Criteria:
    """Validate a Listrak ``Filter`` against ``email_list``'s profile fields
    and messages; engagement conditions count the emails of conversation
    ``conversation_id`` (without one, they are refused).

    Raises one ValidationError whose messages name every problem with its
    path, e.g. ``"filters[1].values: Between needs 2 values, not 1."``.
    """
    if "\\u0000" in json.dumps(data, default=str):  # PostgreSQL's JSON cannot hold one
        raise ValidationError(
            "The conditions hold a NUL character (\\u0000), which no value can hold.",
            code="invalid_criteria",
        )
    parser = _Parser(email_list, conversation_id)
    _, root = parser.member(data, path="", depth=0, index=0)
    if parser.conditions > MAX_CONDITIONS:
        parser.error("filter", f"has {parser.conditions} comparisons; at most {MAX_CONDITIONS}.")
    if parser.errors or root is None:
        raise ValidationError(
            [ValidationError(message, code="invalid_criteria") for message in parser.errors]
        )
    return Criteria(list_id=email_list.pk, root=root, conversation_id=conversation_id)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _words(names: Any) -> str:
    names = sorted(str(name) for name in names)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


class _Parser:
    def __init__(self, email_list: List, conversation_id: int | None) -> None:
        self.schema = ProfileSchema(email_list)
        self.engagement = EngagementReader(email_list, conversation_id, self.error)
        self.errors: list[str] = []
        self.conditions = 0
        self._group_names: dict[int, str] | None = None

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def group_name(self, field: ProfileField) -> str:
        if self._group_names is None:  # one query, and only when a filter names a group
            groups = ProfileFieldGroup.objects.filter(list=self.schema.list)
            self._group_names = dict(groups.values_list("id", "name"))
        return self._group_names.get(field.group_id, "")

    def keys(self, data: object, path: str) -> dict[str, Any] | None:
        """``data`` with canonical key names, without null members."""
        if not isinstance(data, Mapping):
            self.error(path or "filter", "must be an object.")
            return None
        found: dict[str, Any] = {}
        for key, value in data.items():
            name = _KEYS.get(str(key).lower())
            if name is None:
                self.error(path or "filter", f"unknown key {key!r}.")
            elif value is not None:  # clients may send absent members as null
                found[name] = value
        return found

    def member(
        self, data: object, *, path: str, depth: int, index: int
    ) -> tuple[JoinType | None, Node | None]:
        """One filter of a set (the top-level filter is a set's first)."""
        found = self.keys(data, path)
        if found is None:
            return None, None
        join_path, raw_join = _at(path, "joinType"), found.get("joinType")
        join: JoinType | None = JoinType.AND
        if raw_join is not None:
            join = self.join(raw_join, join_path)
        elif index:
            self.error(
                join_path, f"required on the second and later filters; use {_words(JoinType)}."
            )
            join = None
        if index == 0 and join is not None and join.negates:
            self.error(
                join_path,
                f"the first filter of a set joins nothing, so {join} would be ignored; "
                "put it after another filter, or use the opposite compareType.",
            )
        return join, self.node(found, path, depth)

    def node(self, found: dict[str, Any], path: str, depth: int) -> Node | None:
        has_leaf = any(key in found for key in (*_LEAF_KEYS, "values"))
        has_engagement = any(key in found for key in ENGAGEMENT_KEYS)
        if has_leaf and "filters" in found:
            self.error(path or "filter", "give a field comparison or nested filters, not both.")
            return None
        if has_engagement and (has_leaf or "filters" in found):
            other = "a field comparison" if has_leaf else "nested filters"
            self.error(path or "filter", f"give an engagement condition or {other}, not both.")
            return None
        if has_engagement:
            self.conditions += 1
            return self.engagement.read(found, path)
        if "filters" in found:
            return self.filter_set(found["filters"], _at(path, "filters"), depth + 1)
        if not has_leaf:
            self.error(
                path or "filter",
                "give a field comparison (segmentationFieldGroup, segmentationField, "
                "compareType, values) or nested filters.",
            )
            return None
        self.conditions += 1
        return self.condition(found, path)

    def join(self, raw: object, path: str) -> JoinType | None:
        join = _JOIN_NAMES.get(raw.lower()) if isinstance(raw, str) else None
        if join is None:
            self.error(path, f"{raw!r} is not a joinType; use {_words(JoinType)}.")
        return join

    def filter_set(self, raw: object, path: str, depth: int) -> FilterSet | None:
        if depth > MAX_DEPTH:
            self.error(path, f"filters are nested more than {MAX_DEPTH} levels deep.")
            return None
        if not isinstance(raw, list) or not raw:
            self.error(path, "must be a list of one or more filters.")
            return None
        members = [
            self.member(item, path=f"{path}[{index}]", depth=depth, index=index)
            for index, item in enumerate(raw)
        ]
        joined = [(join, node) for join, node in members if join is not None and node is not None]
        if len(joined) < len(members):
            return None
        return FilterSet(first=joined[0][1], rest=tuple(joined[1:]))

    def condition(self, found: dict[str, Any], path: str) -> Condition | None:
        field = self.field(found, path)
        compare = self.compare(found.get("compareType"), _at(path, "compareType"))
        raw_values = self.raw_values(found.get("values", []), _at(path, "values"))
        if field is None or compare is None or raw_values is None:
            return None
        data_type = DataType(field.data_type)
        if data_type not in APPLIES_TO[compare]:
            self.error(
                _at(path, "compareType"),
                f"{compare} does not apply to the {data_type} field {field.name!r}; "
                f"it applies to {_words(APPLIES_TO[compare])} fields.",
            )
            return None
        needed = VALUES_NEEDED[compare]
        if len(raw_values) != needed:
            wanted = {0: "takes no values", 1: "needs 1 value"}.get(
                needed, f"needs {needed} values"
            )
            self.error(_at(path, "values"), f"{compare} {wanted}, not {len(raw_values)}.")
            return None
        values = self.clean(field, compare, raw_values, _at(path, "values"))
        if values is None:
            return None
        if compare in (C.BETWEEN, C.NOT_BETWEEN):
            key = Decimal if data_type == DataType.NUMERIC else str  # ISO dates sort as text
            values = tuple(sorted(values, key=key))
        return Condition(field=field, compare=compare, values=values)

    def field(self, found: dict[str, Any], path: str) -> ProfileField | None:
        raw_id, name = found.get("segmentationFieldId"), found.get("segmentationField")
        group = found.get("segmentationFieldGroup")
        field: ProfileField | None = None
        try:
            if raw_id is not None:
                if isinstance(raw_id, str) and raw_id.strip().isdecimal():
                    raw_id = int(raw_id)
                if isinstance(raw_id, bool) or not isinstance(raw_id, int):
                    self.error(_at(path, "segmentationFieldId"), "must be a whole number.")
                    return None
                field = self.schema.resolve(raw_id)
            elif isinstance(name, str) and name.strip():
                field = self.schema.resolve(name)
            else:
                where = _at(path, "segmentationField") if name is not None else path or "filter"
                self.error(
                    where,
                    "name the profile field: segmentationFieldGroup and segmentationField, "
                    "or segmentationFieldId.",
                )
                return None
        except ValidationError as error:
            key = "segmentationFieldId" if raw_id is not None else "segmentationField"
            self.error(_at(path, key), " ".join(error.messages))
            return None
        ok = True
        agrees = isinstance(name, str) and name.strip().lower() == field.name.lower()
        if raw_id is not None and name is not None and not agrees:
            self.error(
                _at(path, "segmentationField"),
                f"{name!r} is not the name of field {field.pk} ({field.name!r}).",
            )
            ok = False
        if group is not None:
            actual = self.group_name(field)
            if not isinstance(group, str) or group.strip().lower() != actual.lower():
                self.error(
                    _at(path, "segmentationFieldGroup"),
                    f"the profile field {field.name!r} is in the group {actual!r}, not {group!r}.",
                )
                ok = False
        return field if ok else None

    def compare(self, raw: object, path: str) -> CompareType | None:
        if raw is None:
            self.error(path, "required.")
            return None
        compare = _COMPARE_NAMES.get(raw.lower()) if isinstance(raw, str) else None
        if compare is None:
            self.error(path, f"{raw!r} is not a compareType; use {_words(CompareType)}.")
        return compare

    def raw_values(self, raw: object, path: str) -> list[object] | None:
        if not isinstance(raw, list):
            self.error(path, 'must be a list of objects like {"value": "10"}.')
            return None
        values: list[object] = []
        for index, item in enumerate(raw):
            found = (
                {str(k).lower(): v for k, v in item.items()} if isinstance(item, Mapping) else {}
            )
            value = found.get("value")
            if set(found) != {"value"} or isinstance(value, bool):
                value = None
            if not isinstance(value, str | int | float):
                self.error(f"{path}[{index}]", 'must be an object like {"value": "10"}.')
                return None
            values.append(value)
        return values

    def clean(
        self, field: ProfileField, compare: CompareType, raw: list[object], path: str
    ) -> tuple[str, ...] | None:
        cleaned: list[str] = []
        errors_before = len(self.errors)
        for index, value in enumerate(raw):
            item_path = f"{path}[{index}]"
            # A comma list is one value holding the items; each is cleaned on its own.
            items = str(value).split(",") if compare in COMMA_LISTS else [value]
            stored = []
            for item in items:
                try:
                    stored.append(clean_value(field, item))
                except ValidationError as error:
                    self.error(item_path, " ".join(error.messages))
            found = [item for item in stored if item is not None]
            if len(stored) == len(items) and not found:
                what = "at least one item in its list" if len(items) > 1 else "a value"
                self.error(item_path, f"{compare} needs {what}; use IsEmpty for no value.")
            cleaned += found
        return tuple(cleaned) if len(self.errors) == errors_before else None
