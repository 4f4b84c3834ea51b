"""Delivery receipts: the carrier's view of a sent message, queued → sent → delivered | undelivered |
failed. Receipts arrive out of order (carriers retry webhooks and race their own status updates),
so a status only ever moves forward: a late "sent" never overwrites "delivered", and a final status
is final. Pure.
"""

from __future__ import annotations

RANK = {"queued": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
FINAL = frozenset({"delivered", "undelivered", "failed"})


def advance(current: str | None, incoming: str) -> str | None:
    """The message's new delivery status, or None when the receipt changes nothing (late, repeated
    or after a final status)."""
    if incoming not in RANK:
        return None
    if current in FINAL:
        return None
    if current is not None and RANK[incoming] <= RANK.get(current, 0):
        return None
    return incoming


# Receipt error codes that mean "the recipient opted out" (ingress flags them too, as
# `recipient_opted_out`; this keeps the sender right with producers that do not).
OPT_OUT_CODES = {
    "twilio": frozenset({"21610"}),  # https://www.twilio.com/docs/api/errors/21610
    "telnyx": frozenset({"40300"}),  # "Blocked due to STOP message"
    "vonage": frozenset({"9"}),  # DLR err-code 9, Opt-Out Assist
    "plivo": frozenset({"200"}),  # "destination number has opted out"
}


def says_opted_out(carrier: str, status: str, code: str | None, flagged: bool = False) -> bool:
    if flagged:
        return True
    return status in ("failed", "undelivered") and code in OPT_OUT_CODES.get(carrier, frozenset())
