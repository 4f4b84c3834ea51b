"""Quiet hours: the recipient's local time from the number, the strictest zone when there are
several, the next opening when outside the window."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.sender.quiet_hours import Window, check, common_opening, zones_for

NEW_YORK, LOS_ANGELES, HONOLULU, UK = "+12125550123", "+13105550123", "+18085550123", "+447911123456"
ALASKA = "+19075550123"  # Anchorage (UTC-9) or Adak (UTC-10)
DEFAULT = Window()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


CASES = [
    # label, phone, now (UTC), expected opening (UTC) or None = may go now
    ("New York 07:59 waits for 08:00", NEW_YORK, utc(2026, 11, 20, 12, 59), utc(2026, 11, 20, 13)),
    ("New York 08:00 goes", NEW_YORK, utc(2026, 11, 20, 13), None),
    ("New York 20:59 goes", NEW_YORK, utc(2026, 11, 21, 1, 59), None),
    ("New York 21:00 waits for tomorrow", NEW_YORK, utc(2026, 11, 21, 2), utc(2026, 11, 21, 13)),
    ("Los Angeles 05:00 waits", LOS_ANGELES, utc(2026, 11, 20, 13), utc(2026, 11, 20, 16)),
    ("Los Angeles 12:00 goes", LOS_ANGELES, utc(2026, 11, 20, 20), None),
    ("Honolulu 03:00 waits (no DST, UTC-10)", HONOLULU, utc(2026, 7, 1, 13), utc(2026, 7, 1, 18)),
    ("Honolulu 22:00 waits for tomorrow", HONOLULU, utc(2026, 11, 21, 8), utc(2026, 11, 21, 18)),
    ("UK 07:00 in winter waits (GMT)", UK, utc(2026, 11, 20, 7), utc(2026, 11, 20, 8)),
    ("UK 07:30 in summer waits (BST)", UK, utc(2026, 7, 1, 6, 30), utc(2026, 7, 1, 7)),
    ("UK 12:00 goes", UK, utc(2026, 11, 20, 12), None),
    ("New York in summer is UTC-4", NEW_YORK, utc(2026, 7, 1, 11, 30), utc(2026, 7, 1, 12)),
    ("DST starts: New York 08:00 on 8 March 2026 is 12:00 UTC", NEW_YORK, utc(2026, 3, 8, 11),
     utc(2026, 3, 8, 12)),
    ("Alaska: Adak opens an hour after Anchorage, the strictest wins", ALASKA,
     utc(2026, 11, 20, 17, 30), utc(2026, 11, 20, 18)),
    ("Alaska: closes with Anchorage, an hour before Adak", ALASKA, utc(2026, 11, 21, 6, 30),
     utc(2026, 11, 21, 18)),
]


@pytest.mark.parametrize("phone, now, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_quiet_hours(phone, now, expected):
    hold = check(phone, now, DEFAULT)
    assert (hold.until if hold else None) == expected


def test_the_zones_come_from_the_number():
    assert zones_for(NEW_YORK) == ("America/New_York",)
    assert zones_for(HONOLULU) == ("Pacific/Honolulu",)
    assert set(zones_for(ALASKA)) == {"America/Anchorage", "America/Adak"}
    assert "Europe/London" in zones_for(UK)


def test_a_number_that_cannot_be_placed_is_not_held_without_a_fallback_zone():
    fictional = "+15555550100"
    assert zones_for(fictional) == ()
    assert check(fictional, utc(2026, 11, 21, 7), DEFAULT) is None
    hold = check(fictional, utc(2026, 11, 21, 7), DEFAULT, fallback_zone="America/Chicago")
    assert hold is not None and hold.until == utc(2026, 11, 21, 14)


def test_a_tenant_window_is_honoured():
    florida = Window(time(8), time(20))  # Florida's stricter hours
    assert check(NEW_YORK, utc(2026, 11, 21, 0, 30), DEFAULT) is None  # 19:30
    assert check(NEW_YORK, utc(2026, 11, 21, 1, 30), florida).until == utc(2026, 11, 21, 13)


def test_zones_that_never_share_an_open_hour_have_no_common_opening():
    zones = ["Europe/London", "Asia/Shanghai", "America/Los_Angeles"]  # 8 hours apart in November
    assert common_opening(utc(2026, 11, 20), zones, DEFAULT) is None


def test_the_reason_names_the_local_time_and_the_opening():
    hold = check(NEW_YORK, utc(2026, 11, 21, 3, 30), DEFAULT)
    assert hold.reason == ("quiet hours: 22:30 America/New_York is outside 08:00-21:00; "
                           "deferred to 2026-11-21 13:00 UTC")


def test_a_window_must_open_before_it_closes():
    with pytest.raises(ValueError):
        Window(time(21), time(8))


def test_the_sender_refuses_to_start_without_time_zone_data(monkeypatch):
    from services.sender import quiet_hours

    quiet_hours.require_zone_data()
    monkeypatch.setattr(quiet_hours, "_zone", lambda name: None)
    with pytest.raises(RuntimeError, match="time-zone data"):
        quiet_hours.require_zone_data()
