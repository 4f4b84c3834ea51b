"""Segmentation API models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from libs.common.definitions import AsWritten
from libs.common.inputs import Input
from services.segmentation.experiments import Goal

SLUG = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class _In(Input):
    model_config = ConfigDict(extra="forbid")


# --- subscribers --------------------------------------------------------------------------------

class SubscriberOut(BaseModel):
    phone: str
    consent: str
    first_seen_at: datetime
    first_interaction_at: datetime | None
    last_interaction_at: datetime | None
    replies: int
    messages_received: int
    clicks: int
    score: int
    labels: list[str] = []
    attributes: dict[str, str] = {}


class SubscriberPage(BaseModel):
    total: int | None = None
    items: list[SubscriberOut]
    next_after: str | None


class LabelIn(_In):
    label: str = Field(min_length=1, max_length=64, examples=["interest:shoes"])


class AttributesIn(_In):
    attributes: dict[str, str | int | float | bool | None] = Field(
        min_length=1, max_length=100, description="Values are stored as text; null removes one.")


class ScoreEntryOut(BaseModel):
    at: datetime
    rule: str
    ref: str
    delta: int
    score_after: int


class ClickOut(BaseModel):
    at: datetime
    code: str | None
    url: str | None = Field(description="Where the link leads.")
    tag: str | None
    campaign_id: str | None
    flow_id: str | None
    step: str | None
    variant: str | None
    message_id: str | None


class ScoreOut(BaseModel):
    phone: str
    score: int
    history: list[ScoreEntryOut] = Field(description="Newest first; the deltas sum to the score.")


class WeightsIn(_In):
    weights: dict[str, StrictInt] = Field(description="Points per rule; rules left out use the default.")


class WeightsOut(BaseModel):
    weights: dict[str, int]
    defaults: dict[str, int]


# --- segments -----------------------------------------------------------------------------------

class SegmentIn(_In):
    id: str | None = Field(None, pattern=SLUG, description="Slug; generated when left out.")
    name: str = Field(min_length=1, max_length=200)
    rule: Any = Field(description="Rule tree, see the segments documentation.")


class SegmentUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    rule: Any = None


class SegmentOut(BaseModel):
    id: str
    name: str
    rule: Any
    created_at: datetime
    updated_at: datetime


class RuleIn(_In):
    rule: Any


class CountOut(BaseModel):
    count: int


class MembershipOut(BaseModel):
    phone: str
    member: bool


# --- broadcasts ---------------------------------------------------------------------------------

class BroadcastIn(_In):
    id: str | None = Field(None, pattern=SLUG,
                           description="Slug, also the campaign id on what is sent; generated.")
    segment_id: str
    flow_id: str | None = Field(None, max_length=64)
    body: Annotated[str | None, AsWritten] = Field(None, min_length=1, max_length=1600)
    variant: str | None = Field(None, max_length=64)
    rate_per_minute: int = Field(60, ge=1, le=1_000_000, description="Enrollments per minute.")
    reply_window_hours: int = Field(72, ge=1, le=24 * 60,
                                    description="How long after enrollment a reply counts.")

    @model_validator(mode="after")
    def _flow_or_body(self) -> BroadcastIn:
        if bool(self.flow_id) == bool(self.body):
            raise ValueError("give exactly one of flow_id (start a flow) or body (one message)")
        return self


class BroadcastOut(BaseModel):
    id: str
    segment_id: str
    flow_id: str | None
    body: str | None
    variant: str | None
    state: str
    rate_per_minute: int
    reply_window_hours: int
    audience: int
    enrolled: int
    skipped: int
    pending: int = 0
    suppressed: int = 0
    created_at: datetime
    finished_at: datetime | None


class SuppressIn(_In):
    label: str | None = Field(None, min_length=1, max_length=64,
                              description="Group label; default `no-reply:<broadcast id>`.")


class SuppressOut(BaseModel):
    label: str
    suppressed: int


class PhonePage(BaseModel):
    items: list[str]
    next_after: str | None


# --- metrics and conversions --------------------------------------------------------------------

Dimension = Literal["campaign_id", "flow_id", "step", "variant"]


class MetricsOut(BaseModel):
    start: datetime
    end: datetime
    filters: dict[str, str]
    group_by: list[str]
    groups: list[dict[str, Any]]


class SeriesPoint(BaseModel):
    start: datetime
    end: datetime
    groups: list[dict[str, Any]]


class SeriesOut(BaseModel):
    start: datetime
    end: datetime
    bucket: str
    filters: dict[str, str]
    group_by: list[str]
    points: list[SeriesPoint]


class ConversionIn(_In):
    phone: str = Field(min_length=3, max_length=20)
    order_id: str = Field(min_length=1, max_length=100)
    value: Decimal = Field(ge=0, le=Decimal("1e10"), decimal_places=2, description="Order value.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    occurred_at: datetime | None = None
    attribution_window_hours: int = Field(168, ge=1, le=24 * 90)


class ConversionOut(BaseModel):
    order_id: str
    phone: str
    value: Decimal
    currency: str
    at: datetime
    attributed: bool
    reply_at: datetime | None
    campaign_id: str | None
    flow_id: str | None
    step: str | None
    variant: str | None


# --- experiments --------------------------------------------------------------------------------

class VariantIn(_In):
    key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    prompt: str = Field(min_length=1, max_length=1600)
    weight: float = Field(1.0, gt=0, le=1000, description="Share under fixed allocation.")


class ExperimentIn(_In):
    id: str | None = Field(None, pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    flow_id: str | None = Field(None, max_length=64)
    step: str | None = Field(None, max_length=64)
    campaign_id: str | None = Field(None, max_length=64)
    goal: Goal = "reply"
    allocation: Literal["fixed", "thompson"] = "thompson"
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    auto_promote: bool = True
    threshold: float = Field(0.95, ge=0.5, lt=1, description="P(best) that promotes a winner.")
    min_sends: int = Field(30, ge=1, le=1_000_000, description="Sends every variant needs before promotion.")

    @model_validator(mode="after")
    def _scope(self) -> ExperimentIn:
        if self.flow_id and not self.step:
            raise ValueError("a flow experiment names the step whose prompt it tests")
        if not self.flow_id and not self.campaign_id:
            raise ValueError("give flow_id and step, or campaign_id")
        if len({v.key for v in self.variants}) != len(self.variants):
            raise ValueError("variant keys must be unique")
        return self


class VariantOut(BaseModel):
    key: str
    prompt: str
    weight: float
    sends: int
    successes: int


class ExperimentOut(BaseModel):
    id: str
    name: str
    flow_id: str | None
    step: str | None
    campaign_id: str | None
    goal: str
    allocation: str
    auto_promote: bool
    threshold: float
    min_sends: int
    state: str
    winner: str | None
    promoted_by: str | None
    promoted_at: datetime | None
    created_at: datetime
    variants: list[VariantOut]


class ArmOut(BaseModel):
    key: str
    prompt: str
    sends: int
    successes: int
    rate: float | None
    interval95: tuple[float, float]
    prob_best: float


class ReportOut(BaseModel):
    id: str
    goal: str
    state: str
    winner: str | None
    leader: str
    threshold: float
    arms: list[ArmOut]


class PromoteIn(_In):
    variant: str


# --- insights -----------------------------------------------------------------------------------

class SuggestionOut(BaseModel):
    action: Literal["add_synonym", "out_of_range", "answer_question", "new_option"]
    option: str | None = Field(None, description="The option to add the synonym to (add_synonym).")
    text: str


class PlaceOut(BaseModel):
    flow_id: str | None
    step: str | None
    campaign_id: str | None
    count: int


class ClusterOut(BaseModel):
    text: str = Field(description="The cluster's most frequent normalised text.")
    count: int
    example: str = Field(description="The reply as written most often.")
    texts: list[str] = Field(description="Normalised texts in the cluster, most frequent first.")
    where: list[PlaceOut] = Field(description="Where these replies were answered, most first.")
    suggestion: SuggestionOut


class MatchRateOut(BaseModel):
    replies: int
    recognised_replies: int
    unmatched_replies: int
    keyword_match_rate: float | None


class UnmatchedOut(BaseModel):
    since: datetime
    until: datetime
    filters: dict[str, str]
    match: MatchRateOut = Field(description="The scope's keyword match rate (the /v1/metrics definitions).")
    unmatched: int = Field(description="Unmatched replies in scope with their text.")
    distinct_texts: int
    clustered_texts: int = Field(description="How many distinct texts were clustered (the most frequent).")
    clusters: list[ClusterOut]
    next_after: str | None
