"""Segment rules: a JSON rule tree, validated into typed nodes, compiled to one SQL condition on
`subscriber` (SQLAlchemy Core, the same on SQLite and PostgreSQL).

    {"all": [{"label": "interest:shoes"},
             {"clicked": {"within_days": 14, "tag": "shoe-offer"}},
             {"score": {"gt": 70}}]}

Nodes (each an object with exactly one key):

- `all` / `any`: a non-empty list of nodes; `not`: one node
- `label`: a label name (unknown labels simply match nobody)
- `attribute`: `{"name": ..., <op>: value, ...}`; ops eq, ne, gt, gte, lt, lte, in, exists.
  Numbers compare numerically, strings as text; `ne` needs the attribute to be set.
- `score`: `{<op>: number, ...}`; ops eq, ne, gt, gte, lt, lte (several are ANDed: a range)
- `replied`: `{"within_days"?, "campaign_id"?, "flow_id"?, "keyword"?}`
- `clicked`: `{"within_days"?, "campaign_id"?, "flow_id"?, "tag"?}`
- `consent`: opted_in | opted_out | unknown

Labels, replies and clicks compile to EXISTS against indexed tables, so a count is one query.
A bad tree raises `RuleError` naming the path of the bad node (`rule.all[1].clicked.within_days`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, true

from libs.common.db.models.segmentation import (
    Interaction,
    Subscriber,
    SubscriberAttribute,
    SubscriberLabel,
)

MAX_DEPTH = 16
MAX_NODES = 200
MAX_CHILDREN = 50
MAX_WITHIN_DAYS = 3650
CONSENT_VALUES = ("opted_in", "opted_out", "unknown")
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
ATTRIBUTE_OPS = (*COMPARISONS, "in", "exists")
ACTIVITY_FILTERS = {"replied": ("campaign_id", "flow_id", "keyword"),
                    "clicked": ("campaign_id", "flow_id", "tag")}


class RuleError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Group:
    op: str  # all | any
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Label:
    label: str


@dataclass(frozen=True)
class Attribute:
    name: str
    ops: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Score:
    ops: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Activity:
    kind: str  # reply | click
    within_days: int | None
    filters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Consent:
    value: str


Node = Group | Not | Label | Attribute | Score | Activity | Consent


# --- validation ---------------------------------------------------------------------------------

def parse(raw: Any, path: str = "rule") -> Node:
    """Validate a JSON rule tree into nodes, or raise RuleError at the first bad node."""
    counter = [0]
    return _node(raw, path, 0, counter)


def _node(raw: Any, path: str, depth: int, counter: list[int]) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise RuleError(path, f"a rule may have at most {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise RuleError(path, f"a rule may nest at most {MAX_DEPTH} levels")
    if not isinstance(raw, dict) or len(raw) != 1:
        raise RuleError(path, "a rule node is an object with exactly one key, one of "
                              f"{', '.join(sorted(_PARSERS))}")
    (key, value), = raw.items()
    parser = _PARSERS.get(key)
    if parser is None:
        raise RuleError(f"{path}.{key}", f"unknown rule {key!r}; one of {', '.join(sorted(_PARSERS))}")
    return parser(key, value, f"{path}.{key}", depth, counter)


def _group(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Group:
    if not isinstance(value, list) or not value:
        raise RuleError(path, f"'{key}' takes a non-empty list of rules")
    if len(value) > MAX_CHILDREN:
        raise RuleError(path, f"'{key}' takes at most {MAX_CHILDREN} rules")
    return Group(key, tuple(_node(child, f"{path}[{i}]", depth + 1, counter)
                            for i, child in enumerate(value)))


def _not(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Not:
    return Not(_node(value, path, depth + 1, counter))


def _text(value: Any, path: str, what: str, max_len: int = 64) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise RuleError(path, f"{what} must be a non-empty string of at most {max_len} characters")
    return value.strip()


def _label(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Label:
    return Label(_text(value, path, "a label").casefold())


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(path, "must be a number")
    return _finite(value, path)


def _finite(value: int | float, path: str) -> float:
    """A JSON number as a float a query can compare with: huge integers overflow a float, and
    JSON as Python reads it also knows NaN and Infinity."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise RuleError(path, "must be a finite number (within ±1.7e308)")
    return number


def _comparisons(value: Any, path: str, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleError(path, f"{what} takes an object of comparisons, e.g. {{\"gt\": 70}}")
    for op in value:
        if op not in allowed:
            raise RuleError(f"{path}.{op}", f"unknown operator {op!r}; one of {', '.join(allowed)}")
    return value


def _score(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Score:
    ops = _comparisons(value, path, COMPARISONS, "'score'")
    if not ops:
        raise RuleError(path, "'score' needs at least one comparison")
    return Score(tuple((op, _number(v, f"{path}.{op}")) for op, v in ops.items()))


def _attribute(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Attribute:
    if not isinstance(value, dict) or "name" not in value:
        raise RuleError(path, "'attribute' takes {\"name\": ..., <operator>: value}")
    name = _text(value["name"], f"{path}.name", "an attribute name")
    ops = _comparisons({k: v for k, v in value.items() if k != "name"}, path, ATTRIBUTE_OPS,
                       "'attribute'")
    if not ops:
        raise RuleError(path, "'attribute' needs an operator")
    checked: list[tuple[str, Any]] = []
    for op, v in ops.items():
        where = f"{path}.{op}"
        if op == "exists":
            if not isinstance(v, bool):
                raise RuleError(where, "must be true or false")
        elif op == "in":
            if not isinstance(v, list) or not v or len(v) > 100:
                raise RuleError(where, "must be a list of 1 to 100 values")
            v = [_scalar(x, f"{where}[{i}]") for i, x in enumerate(v)]
        else:
            v = _scalar(v, where)
        checked.append((op, v))
    return Attribute(name, tuple(checked))


def _scalar(value: Any, path: str) -> str | float:
    if isinstance(value, str) and len(value) <= 500:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(value, path)
    raise RuleError(path, "must be a string (at most 500 characters) or a number")


def _activity(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Activity:
    allowed = ("within_days", *ACTIVITY_FILTERS[key])
    if not isinstance(value, dict):
        raise RuleError(path, f"'{key}' takes an object with any of {', '.join(allowed)}")
    for field in value:
        if field not in allowed:
            raise RuleError(f"{path}.{field}", f"unknown field {field!r}; one of {', '.join(allowed)}")
    within = value.get("within_days")
    if within is not None and (isinstance(within, bool) or not isinstance(within, int)
                               or not 1 <= within <= MAX_WITHIN_DAYS):
        raise RuleError(f"{path}.within_days",
                        f"must be a whole number of days from 1 to {MAX_WITHIN_DAYS}")
    filters = tuple((f, _text(value[f], f"{path}.{f}", f"'{f}'")) for f in ACTIVITY_FILTERS[key]
                    if value.get(f) is not None)
    if key == "replied":
        filters = tuple((f, v.upper() if f == "keyword" else v) for f, v in filters)
    return Activity("reply" if key == "replied" else "click", within, filters)


def _consent(key: str, value: Any, path: str, depth: int, counter: list[int]) -> Consent:
    if value not in CONSENT_VALUES:
        raise RuleError(path, f"must be one of {', '.join(CONSENT_VALUES)}")
    return Consent(value)


_PARSERS = {"all": _group, "any": _group, "not": _not, "label": _label, "attribute": _attribute,
            "score": _score, "replied": _activity, "clicked": _activity, "consent": _consent}


# --- compilation --------------------------------------------------------------------------------

S = Subscriber.__table__
L = SubscriberLabel.__table__
A = SubscriberAttribute.__table__
I = Interaction.__table__  # noqa: E741


def _same_subscriber(table) -> ColumnElement[bool]:
    return and_(table.c.tenant_id == S.c.tenant_id, table.c.phone == S.c.phone)


def _compare(column, op: str, value: Any) -> ColumnElement[bool]:
    return {"eq": column == value, "ne": column != value, "gt": column > value,
            "gte": column >= value, "lt": column < value, "lte": column <= value}[op]


def compile_rule(node: Node, now: datetime) -> ColumnElement[bool]:
    """The node as a condition on `subscriber` rows (the caller adds the tenant filter)."""
    if isinstance(node, Group):
        parts = [compile_rule(c, now) for c in node.children]
        return and_(true(), *parts) if node.op == "all" else or_(false(), *parts)
    if isinstance(node, Not):
        return not_(compile_rule(node.child, now))
    if isinstance(node, Label):
        return exists().where(_same_subscriber(L), L.c.label == node.label)
    if isinstance(node, Attribute):
        return and_(*(_attribute_condition(node.name, op, v) for op, v in node.ops))
    if isinstance(node, Score):
        return and_(*(_compare(S.c.score, op, v) for op, v in node.ops))
    if isinstance(node, Activity):
        conds = [_same_subscriber(I), I.c.kind == node.kind]
        if node.within_days is not None:
            conds.append(I.c.at >= now - timedelta(days=node.within_days))
        conds += [I.c[f] == v for f, v in node.filters]
        return exists().where(*conds)
    if isinstance(node, Consent):
        return S.c.consent == node.value
    raise TypeError(f"not a rule node: {node!r}")


def _attribute_condition(name: str, op: str, value: Any) -> ColumnElement[bool]:
    has = exists().where(_same_subscriber(A), A.c.name == name)
    if op == "exists":
        return has if value else not_(has)
    if op == "in":
        texts = [v for v in value if isinstance(v, str)]
        nums = [v for v in value if isinstance(v, float)]
        cond = or_(false(), *([A.c.value.in_(texts)] if texts else []),
                   *([A.c.num_value.in_(nums)] if nums else []))
    elif isinstance(value, float):
        cond = _compare(A.c.num_value, op, value)
    else:
        cond = _compare(A.c.value, op, value)
    return exists().where(_same_subscriber(A), A.c.name == name, cond)
