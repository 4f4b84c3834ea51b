"""The state rules table (data/state_rules.yaml): it loads, every row names its statute and
sources, its area codes agree with phonenumbers' geocoder, its holidays land on the right days,
and a malformed file is refused with the row and field at fault (and stops the sender)."""

from __future__ import annotations

import copy
from datetime import date

import phonenumbers
import pytest
import yaml
from phonenumbers import geocoder

from services.sender import state_rules
from services.sender.state_rules import StateRulesError

RAW = yaml.safe_load(state_rules.PATH.read_text(encoding="utf-8"))
NAMES = {code: s["name"] for code, s in RAW["states"].items()}


def test_the_shipped_table_loads_with_a_statute_sources_and_date_per_row():
    table = state_rules.shipped()
    assert {r.state for r in table.rows} == set(NAMES) == {"FL", "OK", "MD", "MS", "WA", "CT", "TX", "RI"}
    for row in table.rows:
        assert row.statute and row.summary and row.sources and row.effective <= date(2026, 12, 1)
    fl = table.rule("FL", date(2026, 12, 1))
    assert fl.limit == 3 and fl.describe(date(2026, 12, 5)) == "08:00-20:00 on Saturday"
    assert table.rule("MD", date(2026, 12, 1)).limit == table.rule("OK", date(2026, 12, 1)).limit == 3
    assert table.rule("TX", date(2026, 12, 1)).limit is None


def _geocoded_state(npa: int) -> str | None:
    """The state phonenumbers' geocoder names for the area code ("Florida", "Miami, FL", …)."""
    for exchange in ("234", "555", "345", "456", "567", "678"):
        number = phonenumbers.parse(f"+1{npa}{exchange}1234")
        if not phonenumbers.is_valid_number(number):
            continue
        text = geocoder.description_for_number(number, "en").removesuffix(" State")
        for code, name in NAMES.items():
            if text == name or text.endswith(f", {code}"):
                return code
        return None
    return None


@pytest.mark.parametrize("code", sorted(NAMES))
def test_every_listed_area_code_is_geocoded_to_its_state(code):
    table = state_rules.shipped()
    for npa in table.states[code].area_codes:
        assert _geocoded_state(npa) == code, npa
        assert table.state_of(f"+1{npa}5550123") == code


def test_no_area_code_the_geocoder_places_in_these_states_is_missing():
    listed = {npa for s in state_rules.shipped().states.values() for npa in s.area_codes}
    placed = {npa for npa in range(200, 1000) if _geocoded_state(npa)}
    assert placed - listed == set()


def test_only_nanp_numbers_have_a_state():
    table = state_rules.shipped()
    assert table.state_of("+447911123456") is None and table.state_of("+12125550123") is None


@pytest.mark.parametrize("day, name", [
    (date(2026, 1, 1), "New Year's Day"), (date(2026, 1, 19), "Martin Luther King Jr. Day"),
    (date(2026, 5, 4), "Rhode Island Independence Day"), (date(2026, 5, 25), "Memorial Day"),
    (date(2026, 7, 3), "Independence Day"),  # 4 July 2026 is a Saturday: federal Friday
    (date(2026, 7, 6), "Independence Day"),  # and Rhode Island's Monday
    (date(2026, 8, 10), "Victory Day"), (date(2026, 11, 3), "Election Day"),
    (date(2026, 11, 26), "Thanksgiving Day"), (date(2027, 12, 31), "New Year's Day"),  # 1 Jan 2028: Sat
    (date(2028, 11, 7), "Election Day"), (date(2027, 11, 2), None),  # no state election in odd years
    (date(2026, 11, 20), None),
])
def test_rhode_island_holidays(day, name):
    rule = state_rules.shipped().rule("RI", day)
    assert rule.holiday(day) == (name if day.weekday() < 5 else None)


def _broken(change) -> dict:
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


BAD = [
    ("a day without hours", lambda r: r["rules"][7]["hours"].pop("sun"),
     "rules.7: Value error, hours: no hours for sun"),
    ("a day given twice", lambda r: r["rules"][6]["hours"].update({"fri": "09:00-21:00"}),
     "hours: fri is given twice"),
    ("hours that are not HH:MM-HH:MM", lambda r: r["rules"][0].update(hours={"daily": "8am-8pm"}),
     "'8am-8pm' is not HH:MM-HH:MM or closed"),
    ("hours that close before they open", lambda r: r["rules"][0].update(hours={"daily": "20:00-08:00"}),
     "must open before it closes"),
    ("an unknown day", lambda r: r["rules"][0].update(hours={"mon-fri": "08:00-20:00", "weekend": "closed"}),
     "'weekend' is not a day"),
    ("a row without a statute", lambda r: r["rules"][0].pop("statute"), "rules.0.statute: Field required"),
    ("a row without sources", lambda r: r["rules"][0].update(sources=[]), "rules.0.sources"),
    ("a source that is not a URL", lambda r: r["rules"][0].update(sources=["the statute book"]),
     "is not a URL"),
    ("a date that is not a date", lambda r: r["rules"][0].update(effective="July 2021"), "rules.0.effective"),
    ("a rule for an unknown state", lambda r: r["rules"][0].update(state="ZZ"),
     "state 'ZZ' is not in states"),
    ("two rows for one state and date", lambda r: r["rules"].append(dict(r["rules"][0])),
     "a second FL row effective 2021-07-01"),
    ("an area code in two states", lambda r: r["states"]["TX"]["area_codes"].append(305),
     "area code 305 is listed for FL and TX"),
    ("an unknown holiday calendar", lambda r: r["rules"][7]["holidays"].update(calendar="mars"),
     "unknown holiday calendar 'mars'"),
    ("an unknown time zone", lambda r: r["states"]["FL"].update(zones=["America/Atlantis"]),
     "America/Atlantis"),
    ("an unknown field", lambda r: r["rules"][0].update(max_per_day=3), "rules.0.max_per_day: Extra inputs"),
    ("a limit of zero", lambda r: r["rules"][0].update(max_marketing_per_24h=0), "max_marketing_per_24h"),
    ("a holiday in two forms",
     lambda r: r["holiday_calendars"]["rhode_island"]["holidays"][0].update(weekday="mon"),
     "either a date (MM-DD) or a month, weekday and nth"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_malformed_table_is_refused_naming_the_row_and_field(change, message):
    with pytest.raises(StateRulesError) as err:
        state_rules.parse(_broken(change), "state_rules.yaml")
    assert str(err.value).startswith("state_rules.yaml: ") and message in str(err.value)


def test_a_file_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "state_rules.yaml"
    path.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(StateRulesError, match="cannot be read as YAML"):
        state_rules.load(path)


async def test_the_sender_refuses_to_start_with_a_malformed_table(monkeypatch, tmp_path):
    from services.sender.app import check_state_rules

    bad = tmp_path / "state_rules.yaml"
    bad.write_text(yaml.safe_dump(_broken(lambda r: r["rules"][0]["hours"].clear())), encoding="utf-8")
    monkeypatch.setattr(state_rules, "PATH", bad)
    try:
        with pytest.raises(StateRulesError, match="hours: no hours for mon"):
            await check_state_rules(None)  # type: ignore[arg-type]
    finally:
        state_rules.shipped.cache_clear()
