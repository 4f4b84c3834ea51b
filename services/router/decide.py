"""What a subscriber's message means and what to answer: pure, no I/O, no clock reads.

The foundation's answer is deliberately small (HELP gets the program text, anything else an
acknowledgement); compliance, matching and flows grow here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from libs.common.events.sms_inbound import InboundSms
from libs.common.events.sms_outbound import SendSms

HELP_WORDS = frozenset({"help", "info"})


@dataclass(frozen=True)
class TenantRules:
    brand: str
    help_text: str | None


def default_help(brand: str) -> str:
    return (f"{brand}: recurring automated marketing texts. Msg frequency varies. "
            "Msg & data rates may apply. Reply HELP for help, STOP to opt out.")


def action_id(msg: InboundSms, n: int = 0) -> str:
    """Deterministic, so a redelivered inbound message yields the same action (sent once)."""
    return uuid.uuid5(uuid.NAMESPACE_URL,
                      f"parley:{msg.tenant_id}:{msg.carrier}:{msg.carrier_message_id}:{n}").hex


def decide(msg: InboundSms, rules: TenantRules) -> list[SendSms]:
    word = msg.body.strip().strip(".!?").casefold()
    if word in HELP_WORDS:
        body, kind = rules.help_text or default_help(rules.brand), "compliance"
    else:
        body, kind = f"{rules.brand}: thanks, we got your message.", "reply"
    return [SendSms(tenant_id=msg.tenant_id, phone=msg.phone, from_number=msg.to, body=body,
                    kind=kind, in_reply_to=msg.carrier_message_id, action_id=action_id(msg))]
