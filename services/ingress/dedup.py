"""What a dedup key's row says about a webhook that finds it already claimed. Pure.

The states of an `inbound_dedup` row (see `services/ingress/delivery.py` for the phases):
`pending` (claimed, its event being published), `accepted` (the bus took the event) and `failed`
(the publish failed: nothing says the bus has it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

PENDING, ACCEPTED, FAILED = "pending", "accepted", "failed"

# Beyond the publish timeout, how long a pending claim stays its first attempt's: covers the
# second transaction's wait for a pooled connection and clock differences between replicas.
STALE_MARGIN_S = 5.0

Verdict = Literal["duplicate", "in_flight", "take_over"]


def stale_after(publish_timeout_s: float) -> timedelta:
    """Age past which a pending claim is a crashed or stuck attempt, not one still publishing."""
    return timedelta(seconds=publish_timeout_s + STALE_MARGIN_S)


def verdict(state: str, claimed_at: datetime, now: datetime, stale: timedelta) -> Verdict:
    """`duplicate`: answer 2xx, publish nothing. `in_flight`: another copy is publishing right
    now; answer 503 so the carrier retries and then finds it accepted. `take_over`: the earlier
    attempt failed or died (a crash, or the process was killed, between claim and accept);
    publish again under a new claim (consumers deduplicate the event id if it had reached the
    bus)."""
    if state == ACCEPTED:
        return "duplicate"
    if state == FAILED or now - claimed_at >= stale:
        return "take_over"
    return "in_flight"
