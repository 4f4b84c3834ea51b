"""Delivery receipts only move a message forward: queued → sent → delivered | undelivered | failed."""

from __future__ import annotations

import pytest

from services.sender.receipts import advance, says_opted_out

CASES = [
    (None, "queued", "queued"),
    ("queued", "sent", "sent"),
    ("queued", "delivered", "delivered"),
    ("sent", "delivered", "delivered"),
    ("sent", "undelivered", "undelivered"),
    ("sent", "failed", "failed"),
    ("delivered", "sent", None),  # a late "sent" never overwrites "delivered"
    ("delivered", "queued", None),
    ("delivered", "delivered", None),  # a repeated receipt changes nothing
    ("delivered", "failed", None),  # final is final
    ("failed", "delivered", None),
    ("sent", "sent", None),
    ("sent", "queued", None),
    ("queued", "read", None),  # not a status we know
]


@pytest.mark.parametrize("current, incoming, expected", CASES, ids=[f"{c}->{i}" for c, i, _ in CASES])
def test_advance(current, incoming, expected):
    assert advance(current, incoming) == expected


def test_carrier_opt_out_codes_in_receipts():
    assert says_opted_out("twilio", "failed", "21610")
    assert says_opted_out("telnyx", "failed", "40300")
    assert says_opted_out("vonage", "failed", "9")
    assert says_opted_out("plivo", "undelivered", "200")
    assert not says_opted_out("twilio", "delivered", "21610")
    assert not says_opted_out("twilio", "failed", "30003")
    assert says_opted_out("bandwidth", "failed", "4720", flagged=True)
