"""Flow and campaign definitions: what a tenant writes (JSON or YAML), validated with pydantic.

A flow is a set of named steps. A step may send a prompt, expect options (keywords, synonyms,
number ranges, letters), and react to silence (`on_timeout`), to a click on one of its tracked links
(`on_click`, after a delay) or to no click (`on_no_click`). Options and triggers run actions and go
to a `next` step or to `end`. Validation rejects unknown step names, unreachable steps and cycles
with no way out, naming the step at fault.

What a tenant saves is also held to today's limits: durations up to `durations.MAX`, texts whose
placeholders name something that exists (`libs/common/placeholders.py`), score events that can be
weighted. Definitions read back from the database are validated with `inputs.STORED`, which
keeps the structure checks and skips those limits: a definition saved before a limit existed
still loads, and what it cannot do at run time is skipped there (see `engine.schedule`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from libs.common import definitions, durations, labels, placeholders
from libs.common.definitions import DefinitionError, when_saved
from libs.common.inputs import Input, saving
from services.router import destinations

END = "end"
# Validation context key set when a tenant saves a definition: the PARLEY_WEBHOOK_ALLOW_PRIVATE value.
WEBHOOK_ALLOW_PRIVATE = "webhook_allow_private"
SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SCORE_EVENT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # segmentation's rule names
NUMBER = 1_000_000  # numeric answers: a rating, a quantity, a year; not an account number
# A keyword is recorded with each match: 64 characters, like segmentation's keyword column.
Keyword = Annotated[str, when_saved(lambda v: None if 0 < len(v.strip()) <= 64 else
                                    "a keyword is 1 to 64 characters")]


def parse_duration(text: str, limit: timedelta | None = durations.MAX) -> timedelta:
    return durations.parse(text, limit)


def check_texts(definition: dict, variables: frozenset[str]) -> None:
    """Every text the definition sends uses placeholders that exist (raises DefinitionError)."""
    for path, text in definitions.texts(definition):
        try:
            placeholders.check(text, variables)
        except placeholders.BadPlaceholder as exc:
            raise DefinitionError(path, str(exc)) from exc


class _Strict(Input, BaseModel):  # BaseModel named too: linters then see a pydantic model
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(_Strict):
    type: Literal["reply"]
    text: str = Field(min_length=1, max_length=1600)


class Label(_Strict):
    type: Literal["label", "unlabel"]
    label: Annotated[str, when_saved(lambda v: None if labels.clean_label(v) else
                                     f"a label is {labels.LABEL_RULE}")] = Field(min_length=1, max_length=100)


class Score(_Strict):
    type: Literal["score"]
    event: Annotated[str, when_saved(lambda v: None if SCORE_EVENT.match(v) else
                                     "a score event is a lower-case name (letters, digits, _), e.g. "
                                     "happy_customer: the name scoring weights give points to")] = Field(
        min_length=1, max_length=64)


class SetAttribute(_Strict):
    type: Literal["set"]
    attribute: Annotated[str, when_saved(lambda v: None if labels.clean_attribute_name(v) else
                                         f"an attribute name is {labels.ATTRIBUTE_RULE}")] = Field(
        min_length=1, max_length=64)
    value: str = Field(max_length=500)


class StartFlow(_Strict):
    type: Literal["start_flow"]
    flow: str = Field(pattern=SLUG)


class Webhook(_Strict):
    """A signed POST to the tenant's receiver. Its URL is judged when the definition is saved (the
    API passes WEBHOOK_ALLOW_PRIVATE in the context); stored definitions are not judged again on
    load, since delivery checks every destination anyway."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", max_length=2000,
                     description="A public http(s) URL; placeholder hosts (.example) are skipped.")
    secret: str | None = Field(None, description="HMAC-SHA256 key for the X-Parley-Signature header.")

    @field_validator("url")
    @classmethod
    def _public(cls, v: str, info: ValidationInfo) -> str:
        allow_private = (info.context or {}).get(WEBHOOK_ALLOW_PRIVATE)
        if allow_private is not None and (reason := destinations.url_refusal(v, allow_private)):
            raise ValueError(reason)
        return v


class Handoff(_Strict):
    type: Literal["handoff"]
    reason: str = Field("requested", max_length=200)
    ack: str | None = Field(None, max_length=1600, description="Acknowledgement sent to the subscriber "
                            "instead of the tenant's handoff_text; empty sends none.")


class End(_Strict):
    type: Literal["end"]


Action = Annotated[Reply | Label | Score | SetAttribute | StartFlow | Webhook | Handoff | End,
                   Field(discriminator="type")]


class Trigger(_Strict):
    after: str
    actions: list[Action] = []
    next: str | None = None

    @field_validator("after")
    @classmethod
    def _duration(cls, v: str, info: ValidationInfo) -> str:
        parse_duration(v, durations.MAX if saving(info) else None)
        return v

    @property
    def delay(self) -> timedelta:
        return parse_duration(self.after, None)


class OptionDef(_Strict):
    keywords: list[Keyword] = []
    synonyms: list[Keyword] = []
    range: Annotated[tuple[int, int] | None, when_saved(
        lambda r: None if r is None or max(map(abs, r)) <= NUMBER else f"a range is within ±{NUMBER:,}")] \
        = Field(None, description="Numeric answers low..high (e.g. [4, 5]).")
    any: bool = Field(False, description="Accept any text (free-form answers).")
    threshold: float | None = Field(None, ge=50, le=100, description="Fuzzy match threshold.")
    set: dict[str, str] = Field({}, description="Conversation variables to remember.")
    actions: list[Action] = []
    next: str | None = Field(None, description="Next step; omitted or 'end' ends the flow.")

    @model_validator(mode="after")
    def _says_what_it_matches(self) -> OptionDef:
        if not (self.keywords or self.range or self.any):
            raise ValueError("an option needs keywords, a range or any: true")
        if self.range and self.range[0] > self.range[1]:
            raise ValueError(f"range {list(self.range)} is empty")
        return self

    @property
    def key(self) -> str:
        if self.keywords:
            return self.keywords[0].upper()
        if self.range:
            return f"{self.range[0]}-{self.range[1]}"
        return "*"


class Step(_Strict):
    prompt: str | None = Field(None, max_length=1600)
    actions: list[Action] = Field([], description="Run when the step is entered.")
    options: list[OptionDef] = []
    fallback: str | None = Field(None, max_length=1600, description="Default lists valid replies.")
    max_fallbacks: int = Field(2, ge=0, le=10)
    on_timeout: Trigger | None = None
    on_click: Trigger | None = None
    on_no_click: Trigger | None = None
    next: str | None = Field(None, description="For steps without options: go on at once.")


class Flow(_Strict):
    id: str = Field(pattern=SLUG)
    name: str = Field("", max_length=200)
    start: str
    steps: dict[str, Step] = Field(min_length=1)
    completion_event: str | None = Field(None, max_length=64)
    kind: Literal["reply", "marketing"] = Field(
        "marketing", description="How prompts sent without a fresh reply are classed.")
    active: bool = Field(True, description="A deactivated flow cannot be started; conversations "
                         "already in it go on.")

    @model_validator(mode="after")
    def _texts_are_sound(self, info: ValidationInfo) -> Flow:
        if saving(info):
            dumped = self.model_dump(mode="json")
            check_texts(dumped, definitions.variables(dumped))
        return self

    @model_validator(mode="after")
    def _graph_is_sound(self) -> Flow:
        names = set(self.steps)
        if END in names:
            raise ValueError(f"'{END}' is reserved and cannot name a step")
        if self.start not in names:
            raise ValueError(f"start step '{self.start}' is not defined")
        edges = {name: _targets(step) for name, step in self.steps.items()}
        for name, targets in edges.items():
            for t in targets - {END}:
                if t not in names:
                    raise ValueError(f"step '{name}' goes to unknown step '{t}'")
        reachable = _closure({self.start}, edges)
        if unreachable := sorted(names - reachable):
            raise ValueError(f"unreachable steps: {', '.join(unreachable)}")
        exits = {END}
        changed = True
        while changed:  # steps from which `end` can be reached
            changed = False
            for name, targets in edges.items():
                if name not in exits and targets & exits:
                    exits.add(name)
                    changed = True
        if trapped := sorted(reachable - exits):
            raise ValueError(f"cycle without an exit: steps {', '.join(trapped)} can never reach end")
        return self


def _targets(step: Step) -> set[str]:
    """Where a step can lead; an option, trigger or step with no `next` leads to end."""
    out: set[str] = set()
    for opt in step.options:
        out.add(opt.next or END)
    for trig in (step.on_timeout, step.on_click, step.on_no_click):
        if trig is not None and trig.next:
            out.add(trig.next)
        elif trig is not None and any(a.type == "end" for a in trig.actions):
            out.add(END)
    if step.next:
        out.add(step.next)
    if not step.options and not step.next:
        out.add(END)  # nothing to wait for: the flow ends here
    if any(a.type == "end" for a in step.actions):
        out.add(END)
    return out


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        node = todo.pop()
        if node in seen or node == END:
            continue
        seen.add(node)
        todo.extend(edges.get(node, ()))
    return seen


class Rule(_Strict):
    """A campaign keyword rule: any of `keywords` (with synonyms and fuzzy) → actions."""

    id: str = Field(pattern=SLUG)
    name: str = Field("", max_length=200)
    keywords: list[Keyword] = Field(min_length=1)
    synonyms: list[Keyword] = []
    threshold: float | None = Field(None, ge=50, le=100)
    actions: list[Action] = []
    join: str | None = Field(None, pattern=SLUG, description="Program these keywords join "
                             "(double opt-in) for subscribers not yet opted in.")
    active: bool = True

    @model_validator(mode="after")
    def _does_something(self, info: ValidationInfo) -> Rule:
        if not (self.actions or self.join):
            raise ValueError("a campaign rule needs actions or a program to join")
        if saving(info):
            dumped = self.model_dump(mode="json")
            check_texts(dumped, definitions.variables(dumped))
        return self
