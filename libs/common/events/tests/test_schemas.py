"""Every topic's examples validate, round-trip byte-for-byte through the wire format, and carry
the subscriber key; consumers ignore fields they do not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from libs.common.events import MODELS, TOPICS
from libs.common.events.campaign_enrolled import CampaignEnrolled
from libs.common.events.sms_inbound import InboundSms

EXAMPLES = Path(__file__).parent.parent / "examples"
CASES = sorted(EXAMPLES.glob("*/v1/*.json"))


def test_every_topic_has_examples():
    assert {p.parent.parent.name for p in CASES} == set(TOPICS)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_example_validates_and_round_trips(path: Path):
    model = MODELS[path.parent.parent.name]
    raw = json.loads(path.read_text())
    event = model.model_validate(raw)
    again = model.from_bytes(event.to_bytes())
    assert again == event
    assert event.key == f"{raw['tenant_id']}:{raw['phone']}"
    assert event.TOPIC == path.parent.parent.name


def test_unknown_fields_are_ignored_so_producers_can_add_optional_fields():
    raw = json.loads((EXAMPLES / "sms.inbound/v1/plain_reply.json").read_text())
    raw["added_later"] = {"anything": 1}
    assert InboundSms.model_validate(raw).body == "Yes please"


def test_phone_is_normalised_to_e164_and_garbage_is_refused():
    e = InboundSms(tenant_id="t", phone="(555) 555-0100", to="+15555550000", body="x",
                   carrier="sim", carrier_message_id="1")
    assert e.phone == "+15555550100"
    with pytest.raises(ValidationError, match="phone"):
        InboundSms(tenant_id="t", phone="not a phone", to="+15555550000", body="x",
                   carrier="sim", carrier_message_id="1")


def test_a_future_schema_version_is_refused_not_misread():
    raw = json.loads((EXAMPLES / "sms.inbound/v1/plain_reply.json").read_text())
    raw["schema_version"] = 2
    with pytest.raises(ValidationError, match="schema_version"):
        InboundSms.model_validate(raw)


def test_an_enrollment_needs_a_flow_or_a_body():
    with pytest.raises(ValidationError, match="flow_id or a body"):
        CampaignEnrolled(tenant_id="t", phone="+15555550100", enrollment_id="e", broadcast_id="b")
