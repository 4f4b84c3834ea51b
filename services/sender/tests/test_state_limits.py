"""State rules on top of the tenant's window: each state's hours at their edges (a minute before
and at the close, Sunday in Texas, Rhode Island's weekend and holidays, DST changes), a number
judged in two zones, effective dates, and the 24-hour limits of Florida, Oklahoma and Maryland."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from services.sender import state_rules
from services.sender.policy import SendingRules, precheck
from services.sender.quiet_hours import Window, common_opening

MIAMI, DALLAS, PROVIDENCE, TULSA, BALTIMORE = ("+13055550123", "+12145550123", "+14015550123",
                                               "+19185550123", "+14105550123")
NEW_YORK = "+12125550123"
PANHANDLE_UNPLACED = "+18501230123"  # a Florida area code; phonenumbers cannot place exchange 123
DEFAULT = SendingRules()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def verdict(phone, now, rules=DEFAULT, recent=(), table=None):
    v = precheck("marketing", phone, now, rules, None, recent=recent, table=table)
    return v.action, v.rule, v.until


WINDOWS = [
    # label, phone, now (UTC), expected (action, rule, until)
    ("Florida 19:59 goes", MIAMI, utc(2026, 11, 21, 0, 59), ("send", None, None)),
    ("Florida 20:00 waits for 08:00 (the tenant's window is still open)", MIAMI, utc(2026, 11, 21, 1),
     ("defer", "state_quiet_hours:FL", utc(2026, 11, 21, 13))),
    ("Florida 07:59 waits for 08:00 (the tenant's own window is closed too)", MIAMI,
     utc(2026, 11, 20, 12, 59), ("defer", "quiet_hours", utc(2026, 11, 20, 13))),
    ("Texas Saturday 08:59 waits for 09:00", DALLAS, utc(2026, 11, 21, 14, 59),
     ("defer", "state_quiet_hours:TX", utc(2026, 11, 21, 15))),
    ("Texas Saturday 20:59 goes", DALLAS, utc(2026, 11, 22, 2, 59), ("send", None, None)),
    ("Texas Sunday 11:59 waits for noon", DALLAS, utc(2026, 11, 22, 17, 59),
     ("defer", "state_quiet_hours:TX", utc(2026, 11, 22, 18))),
    ("Texas Sunday 12:00 goes", DALLAS, utc(2026, 11, 22, 18), ("send", None, None)),
    ("Texas Sunday 21:00 waits for Monday 09:00", DALLAS, utc(2026, 11, 23, 3),
     ("defer", "quiet_hours", utc(2026, 11, 23, 15))),
    ("Texas on the Sunday DST starts: noon CDT is 17:00 UTC", DALLAS, utc(2026, 3, 8, 16),
     ("defer", "state_quiet_hours:TX", utc(2026, 3, 8, 17))),
    ("Texas Saturday night before DST starts waits for Sunday noon CDT", DALLAS, utc(2026, 3, 8, 3, 30),
     ("defer", "quiet_hours", utc(2026, 3, 8, 17))),
    ("Texas Saturday night before DST ends waits for Sunday noon CST", DALLAS, utc(2026, 11, 1, 2, 30),
     ("defer", "quiet_hours", utc(2026, 11, 1, 18))),
    ("Rhode Island Saturday 09:59 waits for 10:00", PROVIDENCE, utc(2026, 11, 21, 14, 59),
     ("defer", "state_quiet_hours:RI", utc(2026, 11, 21, 15))),
    ("Rhode Island Saturday 16:59 goes", PROVIDENCE, utc(2026, 11, 21, 21, 59), ("send", None, None)),
    ("Rhode Island Saturday 17:00 waits for Monday 09:00 (no Sunday hours)", PROVIDENCE,
     utc(2026, 11, 21, 22), ("defer", "state_quiet_hours:RI", utc(2026, 11, 23, 14))),
    ("Rhode Island Sunday noon waits for Monday 09:00", PROVIDENCE, utc(2026, 11, 22, 17),
     ("defer", "state_quiet_hours:RI", utc(2026, 11, 23, 14))),
    ("Rhode Island weekday 17:59 goes", PROVIDENCE, utc(2026, 11, 20, 22, 59),
     ("send", None, None)),
    ("Rhode Island weekday 18:00 waits for Saturday 10:00", PROVIDENCE, utc(2026, 11, 20, 23),
     ("defer", "state_quiet_hours:RI", utc(2026, 11, 21, 15))),
    ("Rhode Island Sunday before Victory Day waits for Tuesday", PROVIDENCE, utc(2026, 8, 9, 16),
     ("defer", "state_quiet_hours:RI", utc(2026, 8, 11, 13))),
    ("Rhode Island on 3 July 2026 (Independence Day observed) waits for Saturday 10:00", PROVIDENCE,
     utc(2026, 7, 3, 16), ("defer", "state_quiet_hours:RI", utc(2026, 7, 4, 14))),
    ("Rhode Island on Saturday 4 July keeps its Saturday hours", PROVIDENCE, utc(2026, 7, 4, 14, 30),
     ("send", None, None)),
    ("Connecticut 08:30 waits for 09:00", "+12035550123", utc(2026, 11, 20, 13, 30),
     ("defer", "state_quiet_hours:CT", utc(2026, 11, 20, 14))),
    ("Mississippi has no Sunday hours", "+16015550123", utc(2026, 11, 22, 18),
     ("defer", "state_quiet_hours:MS", utc(2026, 11, 23, 14))),
    ("Washington 20:00 waits", "+12065550123", utc(2026, 11, 21, 4),
     ("defer", "state_quiet_hours:WA", utc(2026, 11, 21, 16))),
    ("a New York number keeps the tenant's 21:00", NEW_YORK, utc(2026, 11, 21, 1, 30), ("send", None, None)),
]


@pytest.mark.parametrize("phone, now, expected", [c[1:] for c in WINDOWS], ids=[c[0] for c in WINDOWS])
def test_state_hours_on_top_of_the_tenant_window(phone, now, expected):
    assert verdict(phone, now) == expected


def test_a_number_of_a_state_in_two_zones_is_held_by_the_stricter_of_both():
    # Florida spans Eastern and Central time; a number phonenumbers cannot place is judged in both:
    # open from 08:00 Central (09:00 Eastern) to 20:00 Eastern (19:00 Central).
    assert verdict(PANHANDLE_UNPLACED, utc(2026, 11, 20, 13, 30)) == (  # 08:30 Eastern, 07:30 Central:
        "defer", "quiet_hours", utc(2026, 11, 20, 14))  # the tenant's 08:00 has not come in Central
    assert verdict(PANHANDLE_UNPLACED, utc(2026, 11, 20, 14))[0] == "send"
    assert verdict(PANHANDLE_UNPLACED, utc(2026, 11, 21, 0, 59))[0] == "send"  # 19:59 Eastern
    assert verdict(PANHANDLE_UNPLACED, utc(2026, 11, 21, 1)) == (
        "defer", "state_quiet_hours:FL", utc(2026, 11, 21, 14))


def test_the_opening_search_intersects_every_rule_in_every_zone():
    table = state_rules.shipped()

    def texas(day):
        return table.rule("TX", day).hours(day)

    zones = ["America/Chicago", "America/Denver"]  # Texas: Central, and El Paso on Mountain time
    tenant = Window(time(8), time(20))
    # Sunday 11:30 Central: Texas opens at noon Central, but noon Mountain is 13:00 Central.
    assert common_opening(utc(2026, 11, 22, 17, 30), zones, [texas]) == utc(2026, 11, 22, 19)
    # Saturday 19:30 Central: the tenant closes at 20:00 Central; next, Sunday 13:00 Central.
    assert common_opening(utc(2026, 11, 22, 1, 30), zones, [texas, lambda d: (tenant.start, tenant.end)]) \
        == utc(2026, 11, 22, 1, 30)
    assert common_opening(utc(2026, 11, 22, 2), zones, [texas, lambda d: (tenant.start, tenant.end)]) \
        == utc(2026, 11, 22, 19)


def test_the_reason_names_the_local_time_the_state_hours_and_the_statute():
    v = precheck("marketing", DALLAS, utc(2026, 11, 22, 17, 59), DEFAULT, None)
    assert v.reason == ("state quiet hours: 11:59 America/Chicago (Sunday) is outside Texas's hours, "
                        "12:00-21:00 on Sunday (Tex. Bus. & Com. Code § 301.051; SB 140 (2025)); "
                        "deferred to 2026-11-22 18:00 UTC")
    v = precheck("marketing", PROVIDENCE, utc(2026, 8, 10, 15), DEFAULT, None)
    assert "outside Rhode Island's hours, closed on Victory Day (R.I. Gen. Laws § 5-61-3.6" in v.reason
    v = precheck("marketing", DALLAS, utc(2026, 11, 22, 4), DEFAULT, None)  # Saturday 22:00
    assert v.reason.startswith("quiet hours: 22:00 America/Chicago (Saturday) is outside 08:00-21:00 and "
                               "Texas's hours, 09:00-21:00 on Saturday (Tex. Bus.")


def test_a_row_applies_from_its_effective_date():
    # Texas texts came under § 301.051 on 1 September 2025: the Sunday before, 11:00 went.
    assert verdict(DALLAS, utc(2025, 8, 31, 16)) == ("send", None, None)
    assert verdict(DALLAS, utc(2026, 8, 30, 16))[1] == "state_quiet_hours:TX"


def test_a_later_row_takes_over_on_its_date_also_for_an_opening_found_before_it():
    raw = _raw()
    raw["rules"].append({**raw["rules"][0], "effective": "2026-12-01", "hours": {"daily": "10:00-20:00"}})
    table = state_rules.parse(raw)
    # Monday 30 November 2026, 20:30 in Miami: the next morning is 1 December, under the new row.
    assert verdict(MIAMI, utc(2026, 12, 1, 1, 30), table=table) == (
        "defer", "state_quiet_hours:FL", utc(2026, 12, 1, 15))
    assert verdict(MIAMI, utc(2026, 11, 30, 13, 30), table=table)[0] == "send"  # 08:30, old row


def test_a_tenant_without_state_rules_or_quiet_hours():
    off = SendingRules(state_rules=False)
    assert verdict(DALLAS, utc(2026, 11, 22, 17, 59), off) == ("send", None, None)
    no_window = SendingRules(quiet_hours=False)  # the state still holds the message
    assert verdict(DALLAS, utc(2026, 11, 22, 8), no_window) == (
        "defer", "state_quiet_hours:TX", utc(2026, 11, 22, 18))
    assert verdict(NEW_YORK, utc(2026, 11, 22, 8), no_window) == ("send", None, None)


NOON_MIAMI = utc(2026, 11, 20, 17)


@pytest.mark.parametrize("phone, state", [(MIAMI, "FL"), (TULSA, "OK"), (BALTIMORE, "MD")])
def test_three_marketing_messages_in_24_hours_defer_the_fourth_until_the_oldest_leaves(phone, state):
    recent = [NOON_MIAMI - timedelta(hours=h) for h in (23, 10, 1)]
    action, rule, until = verdict(phone, NOON_MIAMI, recent=recent)
    assert (action, rule, until) == ("defer", f"state_frequency_cap:{state}", NOON_MIAMI + timedelta(hours=1))
    assert verdict(phone, NOON_MIAMI, recent=recent[1:]) == ("send", None, None)
    # a send exactly 24 hours old no longer counts
    assert verdict(phone, NOON_MIAMI, recent=[NOON_MIAMI - timedelta(hours=24), *recent[1:]])[0] == "send"


def test_when_the_slot_frees_at_night_the_message_waits_for_the_morning_too():
    recent = [utc(2026, 11, 20, 2), utc(2026, 11, 20, 14), utc(2026, 11, 20, 16)]  # 21:00 the day before
    v = precheck("marketing", MIAMI, NOON_MIAMI, DEFAULT, None, recent=recent)
    assert (v.rule, v.until) == ("state_frequency_cap:FL", utc(2026, 11, 21, 13))  # 08:00 on Saturday
    assert v.reason == ("state frequency limit: 3 marketing messages to this Florida number in the last "
                        "24 hours (at most 3, Fla. Stat. § 501.616(6)(a) and (b), as amended by ch. "
                        "2021-174 (SB 1120)); deferred to 2026-11-21 13:00 UTC, once the oldest leaves the "
                        "24 hours and the sending hours open")


def test_states_without_a_limit_and_the_tenants_own_caps_still_suppress():
    many = [NOON_MIAMI - timedelta(hours=h) for h in range(1, 6)]
    assert verdict(DALLAS, utc(2026, 11, 20, 18), recent=many) == ("send", None, None)
    capped = SendingRules(max_marketing_per_day=2)
    v = precheck("marketing", MIAMI, NOON_MIAMI, capped, None, 2, 2, recent=many[:2])
    assert (v.action, v.rule) == ("suppress", "frequency_cap")


def test_replies_and_transactional_messages_are_never_held_by_state_rules():
    for kind in ("reply", "transactional", "compliance"):
        assert precheck(kind, DALLAS, utc(2026, 11, 22, 8), DEFAULT, None,
                        recent=[NOON_MIAMI] * 5).action == "send"


def _raw() -> dict:
    import yaml

    return yaml.safe_load(state_rules.PATH.read_text(encoding="utf-8"))


# --- through the pipeline, on both profiles -----------------------------------------------------

async def test_a_held_message_records_the_state_rule_and_statute_and_goes_at_the_opening(suite, tenant):
    from libs.common.testing.app import eventually
    from libs.common.testing.consent import subscribe
    from libs.common.testing.phone import Clock
    from services.sender.tests.helpers import message, send

    app, client = suite
    ctx = app.state.ctx
    ctx.clock = Clock(utc(2026, 11, 21, 1, 30))  # Friday 20:30 in Miami: open for the tenant, not Florida
    await subscribe(ctx, "acme", MIAMI)
    held = await send(client, tenant, MIAMI, "Sale!")
    assert (held["status"], held["rule"], held["next_attempt_at"]) == (
        "deferred", "state_quiet_hours:FL", "2026-11-21T13:00:00Z")
    last = (await message(client, tenant, held["id"]))["history"][-1]
    assert last["rule"] == "state_quiet_hours:FL" and "Fla. Stat. § 501.616(6)" in last["reason"]

    ctx.clock = Clock(utc(2026, 11, 21, 13))

    async def went():
        got = await message(client, tenant, held["id"])
        return got if got["status"] == "sent" else None

    assert (await eventually(went))["history"][-1]["status"] == "sent"


async def test_the_fourth_marketing_message_in_24_hours_waits_for_a_slot_from_any_number(suite, tenant):
    from libs.common.testing.app import eventually
    from libs.common.testing.consent import subscribe
    from libs.common.testing.phone import Clock
    from services.sender.tests.helpers import message, send

    app, client = suite
    ctx = app.state.ctx
    ctx.clock = Clock(NOON_MIAMI)
    resp = await client.post("/v1/numbers", headers=tenant,
                             json={"number": "+15555550009", "carrier": "simulator"})
    assert resp.status_code == 201, resp.text
    await subscribe(ctx, "acme", MIAMI)
    await subscribe(ctx, "acme", DALLAS)
    for sender in ("+15555550000", "+15555550009", "+15555550000"):
        assert (await send(client, tenant, MIAMI, "Sale!", **{"from": sender}))["status"] == "sent"
    assert (await send(client, tenant, MIAMI, "Receipt", kind="transactional"))["status"] == "sent"
    held = await send(client, tenant, MIAMI, "One more sale", **{"from": "+15555550009"})
    assert (held["status"], held["rule"], held["next_attempt_at"]) == (
        "deferred", "state_frequency_cap:FL", "2026-11-21T17:00:00Z")
    assert (await send(client, tenant, DALLAS, "Sale!"))["status"] == "sent"  # Texas has no such limit

    ctx.clock = Clock(NOON_MIAMI + timedelta(hours=24))

    async def went():
        got = await message(client, tenant, held["id"])
        return got if got["status"] == "sent" else None

    assert await eventually(went)
