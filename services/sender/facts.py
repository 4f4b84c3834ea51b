"""The facts the sender publishes about a message: `sms.sent` for each decision and for the final
delivery verdict, and `subscriber.events` `consent_changed` when a carrier says the recipient opted
out. Ids derive from the message, so a fact published again (a redelivery) is the same fact. Pure.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from libs.common.db.models.sender import OutboundMessage
from libs.common.events.sms_sent import SmsSent
from libs.common.events.subscriber_events import SubscriberEvent


def fact(row: OutboundMessage, outcome: str, now: datetime, rule: str | None = None) -> SmsSent:
    """The `sms.sent` fact for the row's current state; the id derives from the message, outcome and
    round, so publishing it again (a redelivery) is recognisably the same fact."""
    round_ = f"{row.attempts}:{row.next_attempt_at}" if outcome == "deferred" else str(row.attempts)
    return SmsSent(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"parley:sent:{row.id}:{outcome}:{round_}").hex,
        occurred_at=now, tenant_id=row.tenant_id, phone=row.phone, action_id=row.action_id,
        message_id=row.id, from_number=row.from_number, carrier=row.carrier,
        carrier_message_id=row.carrier_message_id, outcome=outcome, reason=row.reason,  # type: ignore[arg-type]
        segments=row.segments, kind=row.kind, campaign_id=row.campaign_id, flow_id=row.flow_id,
        step=row.step, variant=row.variant, experiment_id=row.experiment_id,
        rule=rule if rule is not None else row.rule,
        deferred_until=row.next_attempt_at if outcome == "deferred" else None, error_code=row.error_code)


def consent_fact(row: OutboundMessage, carrier: str, code: str | None, now: datetime) -> SubscriberEvent:
    """A carrier said the recipient opted out: the router (consent's owner) is told, not overruled."""
    return SubscriberEvent(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"parley:carrier-opt-out:{row.id}").hex, occurred_at=now,
        tenant_id=row.tenant_id, phone=row.phone, type="consent_changed", consent="opted_out",
        reason=f"carrier:{code or carrier}", source_message_id=row.carrier_message_id or row.id)
