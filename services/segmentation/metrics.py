"""Campaign metrics: what each one counts, as SQL (built here, run by the store) and as the
arithmetic that turns the counts into rates. Every count is of events inside the window
[start, end), by each event's own time, in the scope given (campaign, flow, step, variant), and
may be split by any of those dimensions.

| metric                     | definition                                                            |
|----------------------------|-----------------------------------------------------------------------|
| delivered                  | messages (not compliance texts) with a delivered receipt              |
| replies                    | inbound messages, attributed to the last message sent before them     |
| reply_rate                 | replies / delivered                                                   |
| recognised_replies         | replies the router matched to a keyword or option (keyword_matched)   |
| unmatched_replies          | replies the router understood nothing of (keyword_unmatched): the     |
|                            | replies /v1/insights/unmatched clusters                               |
| keyword_match_rate         | recognised_replies / replies                                          |
| conversations_started/…completed | conversation_started / conversation_completed events            |
| completion_rate            | conversations_completed / conversations_started                       |
| reply_clicks               | distinct links clicked by humans in messages sent in reply to a subscriber |
| reply_to_click_rate        | reply_clicks / replies                                                |
| conversions                | orders posted to /v1/conversions: `attributed` (to the last reply in  |
|                            | the order's attribution window) and `total`                           |
| revenue                    | order value of the attributed conversions, per currency               |
| unattributed_revenue       | order value of the conversions no reply explains, per currency        |
| reply_to_conversion_rate   | attributed conversions / replies                                      |
| median_time_to_reply_s     | median of (reply time − time the attributed message was sent)         |
| opt_outs, opt_out_rate     | opt-outs attributed to the scope; opt_outs / delivered                |

A conversation counts under the variant it carries: its start moves to the variant a later step
picked (`consumer._carry_variant`). A rate whose denominator is zero is null, not zero. Amounts
in different currencies are never added together. An unattributed conversion has no campaign,
flow, step or variant, so it only shows in groups (or an unfiltered scope) where those are null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, literal_column, select

from libs.common.db.models.segmentation import Conversion, Interaction, SegmentationMessage

DIMENSIONS = ("campaign_id", "flow_id", "step", "variant")
COUNTS = ("delivered", "replies", "recognised_replies", "unmatched_replies", "conversations_started",
          "conversations_completed", "reply_clicks", "opt_outs")

M = SegmentationMessage.__table__
I = Interaction.__table__  # noqa: E741
C = Conversion.__table__

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Scope:
    tenant_id: str
    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()


def buckets(start: datetime, end: datetime, width: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at every multiple of `width` since the Unix epoch (whole UTC hours or
    days), the first and last piece clipped to the window. The pieces cover the window exactly,
    so each event falls in one and the pieces' counts add up to the window's."""
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    edge = epoch + ((start - epoch) // width) * width + width
    out, at = [], start
    while edge < end:
        out.append((at, edge))
        at, edge = edge, edge + width
    out.append((at, end))
    return out


def _grouped(table, time_col, scope: Scope, value, *where) -> Select:
    cols = [table.c[d] for d in scope.group_by]
    conds = [table.c.tenant_id == scope.tenant_id, time_col >= scope.start, time_col < scope.end,
             *(table.c[d] == v for d, v in scope.filters.items()), *where]
    return select(*cols, value.label("n")).where(and_(*conds)).group_by(*cols)


def _interactions(scope: Scope, kind: str, *where, value=None) -> Select:
    return _grouped(I, I.c.at, scope, value if value is not None else func.count(), I.c.kind == kind,
                    *where)


def count_statements(scope: Scope) -> dict[str, Select]:
    """One grouped aggregate per count; each row is (*group values, n)."""
    return {
        "delivered": _grouped(M, M.c.delivered_at, scope, func.count(), M.c.kind != "compliance"),
        "replies": _interactions(scope, "reply"),
        "recognised_replies": _interactions(scope, "reply", I.c.recognised.is_(True)),
        "unmatched_replies": _interactions(scope, "reply", I.c.recognised.is_(False)),
        "conversations_started": _interactions(scope, "conversation_started"),
        "conversations_completed": _interactions(scope, "conversation_completed"),
        "reply_clicks": _interactions(scope, "click", I.c.reply_triggered.is_(True),
                                      value=func.count(func.distinct(I.c.source_id))),
        "opt_outs": _interactions(scope, "opt_out"),
    }


def conversions_statement(scope: Scope) -> Select:
    """Conversions by group, currency and attribution; each row is
    (*group values, currency, attributed 0/1, count, value)."""
    attributed = case((C.c.reply_at.is_not(None), 1), else_=0)
    cols = [C.c[d] for d in scope.group_by]
    conds = [C.c.tenant_id == scope.tenant_id, C.c.at >= scope.start, C.c.at < scope.end,
             *(C.c[d] == v for d, v in scope.filters.items())]
    return select(*cols, C.c.currency, attributed, func.count(), func.sum(C.c.value)) \
        .where(and_(*conds)).group_by(*cols, C.c.currency, attributed)


def median_statement(scope: Scope) -> Select:
    """The middle latency (or the two middle ones) of each group's replies, in one query that
    runs on SQLite and PostgreSQL alike (window functions; integer division picks the middle)."""
    cols = [I.c[d] for d in scope.group_by]
    inner = select(
        *cols, I.c.latency_s.label("latency"),
        func.row_number().over(partition_by=cols or None, order_by=I.c.latency_s).label("rn"),
        func.count().over(partition_by=cols or None).label("total"),
    ).where(I.c.tenant_id == scope.tenant_id, I.c.kind == "reply", I.c.at >= scope.start,
            I.c.at < scope.end, I.c.latency_s.is_not(None),
            *(I.c[d] == v for d, v in scope.filters.items())).subquery()
    outer_cols = [inner.c[d] for d in scope.group_by]
    rn, total = inner.c.rn, inner.c.total
    return select(*outer_cols, inner.c.latency).where(
        rn.in_([(total + literal_column("1")) // 2, (total + literal_column("2")) // 2]))


@dataclass
class Money:
    """A group's conversions: how many (attributed, all) and their value per currency."""

    attributed: int = 0
    total: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    unattributed_revenue: dict[str, Decimal] = field(default_factory=dict)

    def add(self, currency: str, attributed: bool, count: int, value: Decimal) -> None:
        self.total += count
        amounts = self.revenue if attributed else self.unattributed_revenue
        amounts[currency] = amounts.get(currency, Decimal(0)) + value
        if attributed:
            self.attributed += count


@dataclass
class Group:
    key: dict[str, Any]
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    middle: list[float] = field(default_factory=list)
    money: Money = field(default_factory=Money)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _amounts(by_currency: Mapping[str, Decimal]) -> dict[str, float]:
    return {currency: round(float(v), 2) for currency, v in sorted(by_currency.items())}


def rates(counts: Mapping[str, float], middle: Sequence[float],
          money: Money | None = None) -> dict[str, Any]:
    """Counts in, the published metrics out."""
    c, money = counts, money or Money()
    return {
        "delivered": int(c["delivered"]),
        "replies": int(c["replies"]),
        "reply_rate": _ratio(c["replies"], c["delivered"]),
        "recognised_replies": int(c["recognised_replies"]),
        "unmatched_replies": int(c["unmatched_replies"]),
        "keyword_match_rate": _ratio(c["recognised_replies"], c["replies"]),
        "conversations_started": int(c["conversations_started"]),
        "conversations_completed": int(c["conversations_completed"]),
        "completion_rate": _ratio(c["conversations_completed"], c["conversations_started"]),
        "reply_clicks": int(c["reply_clicks"]),
        "reply_to_click_rate": _ratio(c["reply_clicks"], c["replies"]),
        "conversions": {"attributed": money.attributed, "total": money.total},
        "revenue": _amounts(money.revenue),
        "unattributed_revenue": _amounts(money.unattributed_revenue),
        "reply_to_conversion_rate": _ratio(money.attributed, c["replies"]),
        "median_time_to_reply_s": sum(middle) / len(middle) if middle else None,
        "opt_outs": int(c["opt_outs"]),
        "opt_out_rate": _ratio(c["opt_outs"], c["delivered"]),
    }


def assemble(group_by: Sequence[str], counts: Mapping[str, Sequence[Sequence[Any]]],
             medians: Sequence[Sequence[Any]],
             conversions: Sequence[Sequence[Any]] = ()) -> list[dict[str, Any]]:
    """Merge each count's grouped rows (and the median and conversion rows) into one record per
    group."""
    groups: dict[Key, Group] = {}

    def group(row: Sequence[Any]) -> Group:
        key = tuple(row[: len(group_by)])
        return groups.setdefault(key, Group(key=dict(zip(group_by, key, strict=True))))

    for name, rows in counts.items():
        for row in rows:
            group(row).counts[name] += float(row[-1] or 0)
    for row in medians:
        group(row).middle.append(float(row[-1]))
    for row in conversions:
        currency, attributed, count, value = row[len(group_by):]
        group(row).money.add(currency, bool(attributed), int(count), Decimal(str(value or 0)))
    if not group_by and not groups:
        groups[()] = Group(key={})
    ordered = sorted(groups.values(), key=lambda g: tuple(str(v) for v in g.key.values()))
    return [{"key": g.key, **rates(g.counts, g.middle, g.money)} for g in ordered]
