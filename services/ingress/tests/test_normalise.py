"""Numbers and bodies made uniform at the edge."""

from __future__ import annotations

import pytest

from services.ingress import normalise
from services.ingress.carriers.base import BadRequest


@pytest.mark.parametrize("raw, plus_optional, e164", [
    ("+14133881111", False, "+14133881111"),
    ("(413) 388-1111", False, "+14133881111"),
    ("+15555550100", False, "+15555550100"),  # a test range: possible, not valid, still a number
    ("2349067554729", True, "+2349067554729"),  # Vonage: international without '+'
    ("60124361111", True, "+60124361111"),  # Plivo: the same
    ("447700900001", True, "+447700900001"),  # the UK drama range: possible only
    ("15555550100", True, "+15555550100"),
    ("12345678902", True, "+12345678902"),  # Bandwidth's top-level "to"
], ids=str)
def test_subscriber_numbers_become_e164(raw, plus_optional, e164):
    assert normalise.subscriber(raw, plus_optional=plus_optional, field="from") == e164


@pytest.mark.parametrize("raw, reason", [
    ("FROM_NUMBER", "not a phone number"), ("+4479", "not a phone number"), ("", "not a phone number"),
    ("384387", "short code"), ("12345", "short code"), ("447700900001", "not a phone number"),
], ids=str)
def test_what_is_no_subscriber_number_is_a_422(raw, reason):
    with pytest.raises(BadRequest) as refused:
        normalise.subscriber(raw, plus_optional=False, field="from")
    assert refused.value.status == 422 and reason in refused.value.reason


@pytest.mark.parametrize("raw, expected", [
    ("384387", ("384387", True)), ("2020", ("2020", True)), ("+12028831111", ("+12028831111", False)),
    ("447700900000", ("+447700900000", False)),
], ids=str)
def test_parleys_own_number_may_be_a_short_code_kept_as_received(raw, expected):
    assert normalise.own_number(raw, plus_optional=True, field="to") == expected


@pytest.mark.parametrize("raw, expected", [
    ("  Stop.  ", "Stop."),
    ("Yes\u2019 please \u2026", "Yes' please ..."),
    ("\uff33\uff34\uff2f\uff30", "STOP"),  # full-width
    ("S\u200bTOP", "STOP"),  # a zero-width space inside
    ("line one\n\n line\ttwo", "line one line two"),
    ("\u201cquoted\u201d \u2014 dash", '"quoted" - dash'),
    ("caf\u0065\u0301", "caf\u00e9"),  # composed
], ids=str)
def test_the_normalised_body_keeps_case_and_folds_the_rest(raw, expected):
    assert normalise.body(raw) == expected
