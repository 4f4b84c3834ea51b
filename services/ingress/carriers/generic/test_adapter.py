"""The generic JSON shape through verify (HMAC-SHA256 with a timestamp) → parse → normalise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.ingress.carriers.generic import adapter as generic
from services.ingress.carriers.harness import NOW, Case, run_case

CASES = [
    Case("signed inbound", "inbound.json",
         expect={"phone": "+15555550100", "to": "+15555550000", "body": "Yes please",
                 "carrier_message_id": "agg-123", "media_urls": ["https://aggregator.example/m/1.jpg"]}),
    Case("no id: deduplicated by content", "inbound_no_id.json",
         expect={"body": "YES", "normalised_body": "YES"}),
    Case("a batch of two", '[{"id": "a", "from": "+15555550100", "to": "+15555550000", "body": "1"}, '
         '{"id": "b", "from": "+15555550101", "to": "+15555550000", "body": "2"}]', events=2),
    Case("signed with another secret", "inbound.json", sign_with={"secret": "other"}, status=403,
         code="bad_signature"),
    Case("unsigned", "inbound.json", sign=False, status=403, code="missing_signature"),
    Case("signature header without a timestamp", "inbound.json", headers={"X-Parley-Signature": "v1=00"},
         status=403),
    Case("stale timestamp", "inbound.json", signed_at=NOW - timedelta(minutes=6), status=403,
         code="stale_timestamp"),
    Case("body must be a string", '{"from": "+15555550100", "to": "+15555550000", "body": 5}',
         status=422, error="'body'"),
    Case("media_urls must be strings", '{"from": "+15555550100", "to": "+15555550000", "body": "x", '
         '"media_urls": [1]}', status=422, error="media_urls"),
    Case("receipt", "status.json", kind="status",
         expect={"status": "undelivered", "error_code": "30007", "error_detail": "carrier filtered",
                 "carrier_message_id": "agg-456"}),
    Case("receipt with an unknown status", '{"id": "x", "to": "+15555550100", "status": "lost"}',
         kind="status", status=422, error="'status'"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_generic_table(case: Case) -> None:
    run_case(generic.adapter, case)


def test_without_an_id_the_same_text_in_the_same_window_has_one_key_and_a_later_one_another():
    first = run_case(generic.adapter, Case("a", "inbound_no_id.json"))
    same_window = run_case(generic.adapter, Case("b", "inbound_no_id.json", now=NOW + timedelta(seconds=30)))
    later = run_case(generic.adapter, Case("c", "inbound_no_id.json", now=NOW + timedelta(minutes=10)))
    key = first.accepted[0].dedup_key
    assert key.startswith("content:")
    assert same_window.accepted[0].dedup_key in (key, _next(key))
    assert later.accepted[0].dedup_key not in (key, _next(key))


def _next(key: str) -> str:
    prefix, window = key.rsplit(":", 1)
    return f"{prefix}:{int(window) + 1}"
