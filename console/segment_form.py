"""The segment builder's form: a rule tree as named form fields, and back.

Each node of the tree has a path (``r`` the root group, ``r.0`` its first child, ``r.0.2`` ...)
and its fields are named ``<path>.<field>``: ``r.0.node`` says what the node is (a group's
``all`` / ``any`` / ``none``, or a condition kind), the others hold its values as typed. The
form is read into a draft (what the page shows, unfinished values included), which becomes a
rule only when the domain's own rule model accepts it. This module only translates; what a
rule means and allows is the domain's (``herald.segments.rules``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from herald.segments.rules import RULE_ADAPTER, AllOf, Rule

ROOT = "r"
GROUPS = {"all": "All of", "any": "Any of", "none": "None of"}
CONDITIONS = {
    "tag": "Has the tag",
    "segment": "Is in the segment",
    "orders": "Orders",
    "purchased": "Bought the product",
    "performed": "Did the event",
    "profile": "Profile",
    "attribute": "Attribute",
    "tier": "Loyalty tier",
    "points": "Points balance",
    "rfm": "RFM score",
    "predicted": "Predicted",
    "consent": "May be sent",
    "newsletter": "Newsletter",
    "group": "In the customer group",
    "business": "Is a business",
}
# Fields each condition kind keeps in the form (besides ``node``).
FIELDS = {
    "tag": ("tag",),
    "segment": ("segment",),
    "orders": ("orders", "op", "value", "within_days"),
    "purchased": ("purchased", "within_days"),
    "performed": ("performed", "at_least", "within_days"),
    "profile": ("profile", "op", "value", "value2"),
    "attribute": ("attribute", "op", "value", "value2"),
    "tier": ("tier",),
    "points": ("op", "points"),
    "rfm": ("rfm", "op", "value", "within_days"),
    "predicted": ("predicted", "op", "value"),
    "consent": ("consent",),
    "newsletter": ("newsletter", "topic"),
    "group": ("group",),
    "business": ("business",),
}
# What a field offers where the rule allows only some values (value: label).
COMPARISONS = {
    "eq": "is",
    "ne": "is not",
    "gt": "more than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
}
OPTIONS: dict[str, dict[str, str]] = {
    "orders": {
        "total_spent": "Total spent",
        "count": "Number of orders",
        "average_value": "Average order value",
        "days_since_last": "Days since the last order",
    },
    "op": COMPARISONS,
    "profile": {
        "created_at": "Joined",
        "birthday": "Birthday",
        "country": "Country",
        "locale": "Language",
        "timezone": "Time zone",
        "name": "Name",
        "external_id": "External id",
    },
    "compared_op": {
        **COMPARISONS,
        "exists": "is set",
        "contains": "contains",
        "in": "is one of (comma-separated)",
        "within_days": "within the last … days",
        "before": "before (date)",
        "after": "after (date)",
        "between": "between",
    },
    "rfm": {
        "recency": "Recency",
        "frequency": "Frequency",
        "monetary": "Monetary",
        "total": "Total",
    },
    "predicted": {
        "churn_risk": "Churn risk (0 to 1)",
        "probability_alive": "Chance they are still a customer (0 to 1)",
        "expected_purchases": "Expected purchases over the model's horizon",
        "predicted_clv": "Predicted lifetime value",
        "expected_value": "Expected spend over the model's horizon",
    },
    "consent": {"email": "by email", "sms": "by SMS", "push": "by push", "in_app": "in the app"},
    "newsletter": {
        "subscribed": "Subscribed",
        "pending": "Awaiting confirmation",
        "unsubscribed": "Unsubscribed",
    },
    "business": {"true": "Yes", "false": "No"},
}
# What a new condition of each kind starts with.
STARTS: dict[str, dict[str, Any]] = {
    "orders": {"orders": "total_spent", "op": "gte"},
    "performed": {"at_least": "1"},
    "profile": {"profile": "created_at", "op": "within_days"},
    "attribute": {"op": "eq"},
    "points": {"op": "gte"},
    "rfm": {"rfm": "total", "op": "gte", "within_days": "365"},
    "predicted": {"predicted": "churn_risk", "op": "gte"},
    "consent": {"consent": "email"},
    "newsletter": {"newsletter": "subscribed"},
    "business": {"business": "true"},
}
# Numbers the rule model wants as numbers; empty ones are left out (its default applies).
NUMBERS = {"within_days", "at_least", "points"}
PLAIN_TEXT = {"locale", "timezone", "name", "external_id", "country"}


@dataclass
class Node:
    """One node of the draft: a group (``kind`` in GROUPS) with children, or a condition with
    its values as typed. ``error``: what the domain said about it."""

    path: str
    kind: str
    values: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    error: str | None = None

    @property
    def is_group(self) -> bool:
        return self.kind in GROUPS

    def value(self, name: str) -> Any:
        return self.values.get(name, "")

    def find(self, path: str) -> Node | None:
        if self.path == path:
            return self
        for child in self.children:
            if path == child.path or path.startswith(child.path + "."):
                return child.find(path)
        return None

    def renumbered(self, path: str) -> Node:
        """The same subtree under ``path`` (after a sibling was removed)."""
        return Node(
            path,
            self.kind,
            self.values,
            [c.renumbered(f"{path}.{i}") for i, c in enumerate(self.children)],
        )


def empty_draft() -> Node:
    return Node(ROOT, "all")


# --- form -> draft ---------------------------------------------------------------------


def from_form(form: Any) -> Node:
    """The draft the form's fields describe (a multi-dict: tiers are several values)."""
    fields: dict[str, dict[str, Any]] = {}
    for name in set(form.keys()):
        if not name.startswith(ROOT + ".") and name != ROOT:
            continue
        path, _, key = name.rpartition(".")
        values = form.getlist(name)
        fields.setdefault(path, {})[key] = values if key == "tier" else values[-1]
    return _node(ROOT, fields) if ROOT in fields else empty_draft()


def _node(path: str, fields: dict[str, dict[str, Any]]) -> Node:
    own = fields.get(path, {})
    kind = str(own.get("node", "all"))
    if kind not in GROUPS and kind not in CONDITIONS:
        kind = "all"
    if kind in GROUPS:
        places = sorted(
            int(p[len(path) + 1 :])
            for p in fields
            if p.startswith(path + ".") and p[len(path) + 1 :].isdigit()
        )
        children = [_node(f"{path}.{i}", fields) for i in places]
        return Node(path, kind, {}, [c.renumbered(f"{path}.{n}") for n, c in enumerate(children)])
    values = {k: own[k] for k in FIELDS[kind] if k in own}
    return Node(path, kind, values)


# --- edits: add, remove, change what a node is ------------------------------------------


def edited(draft: Node, edit: str) -> Node:
    """``add:<group path>:<kind>`` adds a child; ``remove:<path>`` removes a node;
    ``kind:<path>`` has already been applied by the form (a new kind starts fresh)."""
    action, _, rest = edit.partition(":")
    if action == "add":
        path, _, kind = rest.partition(":")
        group = draft.find(path)
        if group is not None and group.is_group and (kind in CONDITIONS or kind in GROUPS):
            child_path = f"{path}.{len(group.children)}"
            child = Node(child_path, kind, dict(STARTS.get(kind, {})))
            if kind in GROUPS:
                child.children.append(Node(f"{child_path}.0", "tag"))
            group.children.append(child)
    elif action == "remove":
        parent_path, _, place = rest.rpartition(".")
        parent = draft.find(parent_path)
        if parent is not None and place.isdigit():
            kept = [c for c in parent.children if c.path != rest]
            parent.children = [c.renumbered(f"{parent_path}.{i}") for i, c in enumerate(kept)]
    elif action == "kind":
        node = draft.find(rest)
        if node is not None and not node.is_group:
            start = dict(STARTS.get(node.kind, {}))
            node.values = {**start, **{k: v for k, v in node.values.items() if v not in ("", [])}}
    return draft


# --- draft -> rule ---------------------------------------------------------------------


def _literal(text: str) -> Any:
    """A typed value as the rule compares it: a number or true/false if it reads as one,
    else the text."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def _compared(node: Node, name: str) -> dict[str, Any]:
    op = node.value("op") or "eq"
    subject = node.value(name)
    plain = subject in PLAIN_TEXT

    def one(text: str) -> Any:
        return text.strip() if plain else _literal(text)

    if op == "exists":
        return {name: subject, "op": op}
    if op == "in":
        return {name: subject, "op": op, "value": [one(v) for v in node.value("value").split(",")]}
    if op == "between":
        return {
            name: subject,
            "op": op,
            "value": [one(node.value("value")), one(node.value("value2"))],
        }
    if op in ("before", "after"):
        return {name: subject, "op": op, "value": node.value("value")}
    return {name: subject, "op": op, "value": one(node.value("value"))}


def to_data(node: Node) -> dict[str, Any]:
    """The rule as the domain reads it (not yet checked)."""
    if node.is_group:
        children = [to_data(c) for c in node.children]
        if node.kind == "none":
            return {"not": children[0] if len(children) == 1 else {"any": children}}
        return {node.kind: children}
    if node.kind in ("profile", "attribute"):
        return _compared(node, node.kind)
    data: dict[str, Any] = {}
    for name in FIELDS[node.kind]:
        value = node.values.get(name, "")
        if value in ("", []):
            continue
        if name in NUMBERS and isinstance(value, str):
            value = _literal(value)
        data[name] = value
    if node.kind == "business":
        data["business"] = node.value("business") == "true"
    if node.kind in ("orders", "rfm", "predicted") and "value" not in data:
        data["value"] = None  # a missing figure: the model says what it needs
    # The kind's own key names the node even when left empty, so a complaint lands on it.
    data.setdefault(node.kind, [] if node.kind == "tier" else "")
    return data


@dataclass(frozen=True)
class Checked:
    """The draft as a rule, or where and why the domain refused it."""

    rule: Rule | None
    problem: str | None = None


def checked(draft: Node) -> Checked:
    """The rule if the domain accepts the draft; else its first complaint, also put on the
    node it is about (so the page shows it there)."""
    try:
        return Checked(RULE_ADAPTER.validate_python(to_data(draft)))
    except ValidationError as exc:
        first = exc.errors()[0]
        node = _node_at(draft, first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] in ("string_too_short", "too_short", "missing"):
            message = "fill this in"
        node.error = message
        if node.is_group and not node.children:
            node.error = "add a condition"
        return Checked(None, message)


def _node_at(draft: Node, loc: tuple[Any, ...]) -> Node:
    """The draft node a validation error's location points into."""
    node, steps = draft, list(loc)
    while steps and node.is_group:
        step = steps.pop(0)
        if isinstance(step, int) and step < len(node.children):
            node = node.children[step]
    return node


# --- rule -> draft ---------------------------------------------------------------------


def from_rule(rule: Rule | dict[str, Any]) -> Node:
    """The draft that shows a saved rule (a lone condition sits in an ``all`` group)."""
    data = rule if isinstance(rule, dict) else RULE_ADAPTER.dump_python(rule, by_alias=True)
    root = _from_data(ROOT, data)
    if not root.is_group:
        root = Node(ROOT, "all", {}, [root.renumbered(f"{ROOT}.0")])
    return root


def _from_data(path: str, data: dict[str, Any]) -> Node:
    for kind in ("all", "any"):
        if kind in data:
            return Node(
                path, kind, {}, [_from_data(f"{path}.{i}", c) for i, c in enumerate(data[kind])]
            )
    if "not" in data:
        inner = data["not"]
        members = inner.get("any", [inner])
        return Node(path, "none", {}, [_from_data(f"{path}.{i}", c) for i, c in enumerate(members)])
    kind = next(k for k in CONDITIONS if k in data)
    values: dict[str, Any] = {}
    for name in FIELDS[kind]:
        value = data.get(name)
        if value is None:
            continue
        if name == "value" and isinstance(value, list):
            if data.get("op") == "between":
                values["value"], values["value2"] = (_shown(v) for v in value)
            else:
                values["value"] = ", ".join(_shown(v) for v in value)
            continue
        values[name] = value if name == "tier" else _shown(value)
    return Node(path, kind, values)


def shows_all_of(rule: Rule) -> bool:
    """Whether the builder shows every part of the rule (event property filters and first or
    last times are written through the API): if not, saving from it would lose them."""
    try:
        shown = RULE_ADAPTER.validate_python(to_data(from_rule(rule)))
    except (ValidationError, StopIteration):
        return False
    return shown in (rule, AllOf(all=[rule]))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
