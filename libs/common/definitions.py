"""Reading the router's flow and campaign definitions (their stored JSON) for what they declare:
the variables a flow's texts may use, the texts it sends, the score events it records.

The router validates its own definitions with these, and segmentation checks experiments and
scoring weights against what the router stored (it reads `flow_definition` and `campaign_rule`,
never writes them). Walks tolerate any shape: what is not a flow yields nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import AfterValidator, ValidationInfo

from libs.common import placeholders
from libs.common.inputs import InputError, saving
from libs.common.placeholders import BUILTINS

TRIGGERS = ("on_timeout", "on_click", "on_no_click")
DefinitionError = InputError  # a problem at a place inside a definition


def when_saved(problem: Callable[[Any], str | None]) -> AfterValidator:
    """A limit that applies when a definition is saved (`problem` says what is wrong, or None);
    definitions read back with `STORED` skip it."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if saving(info) and (found := problem(value)) is not None:
            raise ValueError(found)
        return value

    return AfterValidator(check)


def sent_with(*variables: str) -> AfterValidator:
    """A text whose placeholders may be only `variables` (and tracked links), whatever the flow."""
    def problem(text: str | None) -> str | None:
        try:
            placeholders.check(text or "", variables)
        except placeholders.BadPlaceholder as exc:
            return str(exc)
        return None

    return when_saved(problem)


# A text sent exactly as written (a broadcast's body): tracked links, no variables.
AsWritten = sent_with()
# Compliance texts and the tenant's hand-off acknowledgement, rendered for any conversation: only
# {brand} is known whatever the flow.
WithBrand = sent_with("brand")


def _dicts(value: Any) -> list[Mapping]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _steps(flow: Mapping) -> Mapping:
    steps = flow.get("steps") if isinstance(flow, Mapping) else None
    return steps if isinstance(steps, Mapping) else {}


def actions(definition: Mapping) -> Iterator[tuple[tuple, Mapping]]:
    """Every action of a flow (step, option and trigger actions) or campaign rule, with its path."""
    if not isinstance(definition, Mapping):
        return
    for i, action in enumerate(_dicts(definition.get("actions"))):
        yield ("actions", i), action
    for name, step in _steps(definition).items():
        if not isinstance(step, Mapping):
            continue
        for i, action in enumerate(_dicts(step.get("actions"))):
            yield ("steps", name, "actions", i), action
        for j, option in enumerate(_dicts(step.get("options"))):
            for i, action in enumerate(_dicts(option.get("actions"))):
                yield ("steps", name, "options", j, "actions", i), action
        for trigger in TRIGGERS:
            if isinstance(step.get(trigger), Mapping):
                for i, action in enumerate(_dicts(step[trigger].get("actions"))):
                    yield ("steps", name, trigger, "actions", i), action


def variables(definition: Mapping) -> frozenset[str]:
    """Names a flow's texts may use: the built-ins, its step ids (a step's answer), the variables
    its options `set` and the attributes its `set` actions write; for a campaign rule, the
    built-ins and its own `set` actions."""
    names = set(BUILTINS)
    for name, step in _steps(definition).items():
        names.add(str(name))
        for option in _dicts(step.get("options") if isinstance(step, Mapping) else None):
            if isinstance(option.get("set"), Mapping):
                names.update(str(k) for k in option["set"])
    names.update(str(a.get("attribute")) for _, a in actions(definition) if a.get("type") == "set")
    return frozenset(names)


def texts(definition: Mapping) -> Iterator[tuple[tuple, str]]:
    """Every text a flow or rule sends, with its path: prompts, fallbacks, reply actions and a
    hand-off's acknowledgement."""
    for name, step in _steps(definition).items():
        if isinstance(step, Mapping):
            for key in ("prompt", "fallback"):
                if isinstance(step.get(key), str):
                    yield ("steps", name, key), step[key]
    for path, action in actions(definition):
        if action.get("type") == "reply" and isinstance(action.get("text"), str):
            yield (*path, "text"), action["text"]
        if action.get("type") == "handoff" and isinstance(action.get("ack"), str):
            yield (*path, "ack"), action["ack"]


def score_events(definition: Mapping) -> set[str]:
    """Score event names a flow or rule records, as segmentation keys them (lower case)."""
    return {str(a.get("event")).strip().lower() for _, a in actions(definition)
            if a.get("type") == "score" and a.get("event")}
