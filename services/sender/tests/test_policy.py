"""The send-time checks in their order, and the tenant settings that shape them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.sender.policy import DEFAULT_RULES, SendingRules, precheck

NEW_YORK = "+12125550123"
NIGHT = datetime(2026, 11, 21, 7, tzinfo=UTC)  # 02:00 in New York
DAY = datetime(2026, 11, 20, 17, tzinfo=UTC)  # 12:00 in New York
CAPPED = SendingRules(max_marketing_per_day=2)

CASES = [
    # label, kind, now, rules, opted_out, (day, week) sent, expected (action, rule)
    ("marketing by day goes", "marketing", DAY, DEFAULT_RULES, None, (0, 0), ("send", None)),
    ("opted out: suppressed", "marketing", DAY, DEFAULT_RULES, "recipient opted out", (0, 0),
     ("suppress", "consent")),
    ("opted out wins over quiet hours (checked first)", "marketing", NIGHT, DEFAULT_RULES, "opted out",
     (0, 0), ("suppress", "consent")),
    ("the opt-out confirmation still reaches an opted-out number", "compliance", NIGHT, DEFAULT_RULES,
     "opted out", (0, 0), ("send", None)),
    ("a reply to an opted-out number is suppressed", "reply", DAY, DEFAULT_RULES, "opted out", (0, 0),
     ("suppress", "consent")),
    ("marketing at night is deferred", "marketing", NIGHT, DEFAULT_RULES, None, (0, 0),
     ("defer", "quiet_hours")),
    ("quiet hours come before caps", "marketing", NIGHT, CAPPED, None, (5, 5), ("defer", "quiet_hours")),
    ("a keyword reply at night is not held", "reply", NIGHT, DEFAULT_RULES, None, (0, 0), ("send", None)),
    ("HELP at night is not held", "compliance", NIGHT, DEFAULT_RULES, None, (0, 0), ("send", None)),
    ("transactional at night is not held", "transactional", NIGHT, DEFAULT_RULES, None, (0, 0),
     ("send", None)),
    ("quiet hours off: marketing at night goes", "marketing", NIGHT, SendingRules(quiet_hours=False), None,
     (0, 0), ("send", None)),
    ("over the daily cap: suppressed", "marketing", DAY, CAPPED, None, (2, 2), ("suppress", "frequency_cap")),
    ("caps never apply to replies", "reply", DAY, CAPPED, None, (9, 9), ("send", None)),
]


@pytest.mark.parametrize("kind, now, rules, opted_out, sent, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_precheck(kind, now, rules, opted_out, sent, expected):
    verdict = precheck(kind, NEW_YORK, now, rules, opted_out, *sent)
    assert (verdict.action, verdict.rule) == expected


def test_a_deferral_carries_the_opening():
    verdict = precheck("marketing", NEW_YORK, NIGHT, DEFAULT_RULES, None)
    assert verdict.until == datetime(2026, 11, 21, 13, tzinfo=UTC)


@pytest.mark.parametrize("bad", [{"quiet_hours_start": "21:00", "quiet_hours_end": "08:00"},
                                 {"quiet_hours_start": "8am"}, {"fallback_timezone": "Mars/Olympus"},
                                 {"max_marketing_per_day": 0}, {"surprise": True}])
def test_settings_that_make_no_sense_are_refused(bad):
    with pytest.raises(ValidationError):
        SendingRules.model_validate(bad)


def test_defaults():
    assert (DEFAULT_RULES.quiet_hours_start, DEFAULT_RULES.quiet_hours_end) == ("08:00", "21:00")
    assert DEFAULT_RULES.replace_lookalikes and DEFAULT_RULES.quiet_hours and DEFAULT_RULES.state_rules
    assert not DEFAULT_RULES.frequency_caps.active
