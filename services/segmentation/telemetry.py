"""Prometheus counters for campaign metrics, by tenant and campaign. They count the same events
the /v1/metrics definitions count, so rates come out in PromQL, e.g. the reply rate of a campaign:

    sum by (campaign) (rate(parley_campaign_replies_total[1h]))
      / sum by (campaign) (rate(parley_campaign_delivered_total[1h]))

Counters are bumped after the event's transaction committed, once per event id. Campaign label:
the campaign id, or "none" for unattributed activity. Conversions and revenue count attributed
orders only, and revenue has a `currency` label (amounts in different currencies never add up).
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Counter, Histogram

CampaignMetric = Literal[
    "parley_campaign_sent_total",
    "parley_campaign_delivered_total",
    "parley_campaign_replies_total",
    "parley_campaign_recognised_replies_total",
    "parley_campaign_reply_clicks_total",
    "parley_campaign_clicks_total",
    "parley_campaign_conversations_started_total",
    "parley_campaign_conversations_completed_total",
    "parley_campaign_conversions_total",
    "parley_campaign_revenue_total",
    "parley_campaign_opt_outs_total",
    "parley_broadcast_enrollments_total",
]
_LABELS = ["tenant", "campaign"]


def _counter(name: CampaignMetric, doc: str, labels: list[str] = _LABELS) -> Counter:
    return Counter(name.removesuffix("_total"), doc, labels)


COUNTERS: dict[str, Counter] = {
    "sent": _counter("parley_campaign_sent_total", "Messages sent"),
    "delivered": _counter("parley_campaign_delivered_total", "Messages with a delivered receipt"),
    "replies": _counter("parley_campaign_replies_total", "Inbound replies, attributed"),
    "recognised_replies": _counter("parley_campaign_recognised_replies_total",
                                   "Replies the router matched to a keyword"),
    "reply_clicks": _counter("parley_campaign_reply_clicks_total",
                             "Human clicks on links sent in reply to a subscriber"),
    "clicks": _counter("parley_campaign_clicks_total", "Human link clicks"),
    "conversations_started": _counter("parley_campaign_conversations_started_total",
                                      "Conversations started"),
    "conversations_completed": _counter("parley_campaign_conversations_completed_total",
                                        "Conversations completed"),
    "conversions": _counter("parley_campaign_conversions_total", "Attributed conversions"),
    "opt_outs": _counter("parley_campaign_opt_outs_total", "Opt-outs, attributed"),
    "enrollments": _counter("parley_broadcast_enrollments_total", "Broadcast enrollments published"),
}
REVENUE = _counter("parley_campaign_revenue_total",
                   "Order value of attributed conversions, per currency", [*_LABELS, "currency"])
REPLY_SECONDS = Histogram(
    "parley_campaign_reply_seconds", "Time from a message to the reply attributed to it", _LABELS,
    buckets=(10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)


@dataclass
class Tallies:
    """What one transaction counted; published only once it committed."""

    tenant_id: str
    counts: Tally = field(default_factory=Tally)
    reply_seconds: list[tuple[str, float]] = field(default_factory=list)
    revenue: Tally = field(default_factory=Tally)

    def add(self, name: str, campaign_id: str | None, amount: float = 1) -> None:
        self.counts[(name, campaign_id or "none")] += amount

    def add_revenue(self, campaign_id: str | None, currency: str, amount: float) -> None:
        self.revenue[(campaign_id or "none", currency)] += amount

    def publish(self) -> None:
        for (name, campaign), amount in self.counts.items():
            COUNTERS[name].labels(tenant=self.tenant_id, campaign=campaign).inc(amount)
        for (campaign, currency), amount in self.revenue.items():
            REVENUE.labels(tenant=self.tenant_id, campaign=campaign, currency=currency).inc(amount)
        for campaign, seconds in self.reply_seconds:
            REPLY_SECONDS.labels(tenant=self.tenant_id, campaign=campaign).observe(seconds)
