"""Subscription lifecycle on both profiles: double opt-in by keyword and by web form, programs,
consent evidence, do-not-contact, and bulk import."""

from __future__ import annotations

import pytest

from libs.common.testing.app import eventually, walk_pages
from libs.common.testing.consent import consent_of
from libs.common.testing.phone import Phone


@pytest.fixture
def world(playbooks):
    return playbooks


async def test_join_then_yes_subscribes_confirms_and_starts_the_welcome_flow(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550501")
    await phone.text("JOIN")
    (request,) = await phone.receive()
    assert request.startswith("Reply Y to get recurring automated marketing texts from Acme Shoes.")
    assert "Msg & data rates may apply" in request and "STOP to cancel" in request
    assert (await consent_of(client, headers, phone.number))["current"]["default"] is None
    await phone.text("yes")
    confirmation, welcome = await phone.receive(2)
    assert "You're subscribed" in confirmation
    assert "Reply 1 for Shoes" in welcome
    record = await consent_of(client, headers, phone.number)
    assert record["current"]["default"] == "opted_in"
    events = [(h["event"], h["status"]) for h in record["history"]]
    assert events == [("opt_in_request", "requested"), ("confirmation", "opted_in")]
    confirmation_evidence = record["history"][1]["evidence"]
    assert confirmation_evidence["keyword"] == "JOIN" and confirmation_evidence["confirmed_by"] == "yes"


async def test_an_unconfirmed_join_expires_and_is_never_messaged_again(world):
    ctx, client, headers = world
    phone = Phone(client, "+15555550502")
    await phone.text("join")
    await phone.receive()
    ctx.clock.advance(hours=24, minutes=1)
    await phone.text("Y")
    await phone.text("hello")
    await eventually(lambda: _processed(client, headers, phone.number))
    await phone.nothing_more()
    assert (await consent_of(client, headers, phone.number))["current"]["default"] is None


async def _processed(client, headers, phone):
    resp = await client.get(f"/v1/subscribers/{phone}", headers=headers)
    return resp.status_code == 200 and resp.json().get("replies", 0) >= 3


async def test_web_opt_in_records_the_evidence_and_counts_only_after_the_y(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550503")
    resp = await client.post("/v1/opt-ins", headers=headers, json={
        "phone": phone.number, "disclosure": "By submitting you agree to get marketing texts…",
        "source_url": "https://shop.example/signup", "ip": "203.0.113.9", "user_agent": "Mozilla/5.0"})
    assert resp.status_code == 202, resp.text
    (request,) = await phone.receive()
    assert "Reply Y" in request
    assert (await consent_of(client, headers, phone.number))["current"]["default"] is None
    await phone.text("Y")
    await phone.receive(2)
    record = await consent_of(client, headers, phone.number)
    assert record["current"]["default"] == "opted_in"
    evidence = record["history"][-1]["evidence"]
    assert evidence["channel"] == "web" and evidence["ip"] == "203.0.113.9"
    assert evidence["source_url"] == "https://shop.example/signup"
    assert evidence["disclosure"].startswith("By submitting")


async def test_stop_to_one_program_leaves_the_other_and_stopall_ends_both(world):
    _ctx, client, headers = world
    for program, number in (("default", "+15555550000"), ("alerts", "+15555550009")):
        join = "JOIN" if program == "default" else "ALERTS"
        resp = await client.put(f"/v1/programs/{program}", headers=headers, json={
            "name": program, "numbers": [number], "join_keywords": [join]})
        assert resp.status_code in (200, 201), resp.text
    await client.post("/v1/numbers", headers=headers, json={"number": "+15555550009", "carrier": "simulator"})
    marketing = Phone(client, "+15555550504")
    alerts = Phone(client, "+15555550504", parley="+15555550009")
    await marketing.text("JOIN")
    await marketing.receive()
    await marketing.text("Y")
    await marketing.receive()  # these programs start no welcome flow
    await alerts.text("ALERTS")
    alerts.seen = marketing.seen
    await alerts.receive()
    await alerts.text("Y")
    await alerts.receive()
    current = (await consent_of(client, headers, marketing.number))["current"]
    assert current == {"alerts": "opted_in", "default": "opted_in"}

    marketing.seen = alerts.seen  # one handset: skip what the alerts program sent it
    await marketing.text("STOP")
    (confirmation,) = await marketing.receive()
    assert "unsubscribed" in confirmation
    current = (await consent_of(client, headers, marketing.number))["current"]
    assert current == {"alerts": "opted_in", "default": "opted_out"}

    await alerts.text("STOPALL")
    await eventually(lambda: _all_out(client, headers, marketing.number))


async def _all_out(client, headers, phone):
    current = (await consent_of(client, headers, phone))["current"]
    return set(current.values()) == {"opted_out"}


HEADER = "phone,program,opted_in_at,source,consent_text,labels,attr_city\n"


def csv_file(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


GOOD = [
    "+15555550601,default,2025-01-02T10:00:00Z,checkout,I agree to texts,vip;interest:shoes,Austin",
    "(555) 555-0602,,2025-01-03T10:00:00Z,popup,I agree,,",
    '+15555550603,default,2025-01-04T10:00:00Z,store,"I agree,\nsigned in store",,',
]
BAD = [
    "not-a-phone,default,2025-01-02T10:00:00Z,checkout,x,,",
    "+15555550604,default,,checkout,x,,",
    "+15555550605,nope,2025-01-02T10:00:00Z,checkout,x,,",
    "+15555550606,default,2025-01-02T10:00:00Z,checkout,x,,",  # on the do-not-contact list
]


async def run_import(client, headers, content: bytes, file_name="subscribers.csv"):
    resp = await client.post("/v1/imports", headers={**headers, "content-type": "text/csv"},
                             params={"file_name": file_name}, content=content)
    assert resp.status_code == 202, resp.text

    async def finished():
        job = (await client.get(f"/v1/imports/{resp.json()['id']}", headers=headers)).json()
        return job if job["status"] in ("done", "failed") else None

    return await eventually(finished)


async def test_import_takes_good_rows_reports_bad_ones_by_line_and_a_rerun_changes_nothing(world):
    _ctx, client, headers = world
    assert (await client.post("/v1/dnc", headers=headers, json={"phone": "+15555550606"})).status_code == 201
    content = csv_file(*GOOD, *BAD)
    job = await run_import(client, headers, content)
    assert job["status"] == "done", job
    assert (job["rows_total"], job["rows_applied"], job["rows_rejected"]) == (7, 3, 4)
    errors = (await client.get(f"/v1/imports/{job['id']}/errors", headers=headers)).json()
    # line 1 is the header; the third good row spans lines 4-5 (a quoted newline)
    assert errors == [
        {"line": 6, "reason": "invalid phone 'not-a-phone'"},
        {"line": 7, "reason": "missing consent time (opted_in_at)"},
        {"line": 8, "reason": "unknown program 'nope'"},
        {"line": 9, "reason": "on the do-not-contact list"},
    ]
    record = await consent_of(client, headers, "+15555550601")
    assert record["current"]["default"] == "opted_in"
    assert record["history"][0]["evidence"]["line"] == 2 and record["history"][0]["event"] == "import"
    assert (await consent_of(client, headers, "+15555550606"))["current"]["default"] is None

    async def profile():  # segmentation applies the import's events: one per imported row
        resp = await client.get("/v1/subscribers/+15555550601", headers=headers)
        return resp.json() if resp.status_code == 200 and resp.json()["attributes"] else None

    imported = await eventually(profile)
    assert imported["consent"] == "opted_in"
    assert imported["labels"] == ["interest:shoes", "vip"] and imported["attributes"] == {"city": "Austin"}

    again = await run_import(client, headers, content)
    assert (again["rows_applied"], again["rows_unchanged"], again["rows_rejected"]) == (0, 3, 4)
    assert len((await consent_of(client, headers, "+15555550601"))["history"]) == 1


async def test_an_import_refuses_consent_in_the_future_off_the_calendar_or_with_a_nul(world):
    _ctx, client, headers = world  # the clock is at 2026-11-20 15:00 UTC
    job = await run_import(client, headers, csv_file(
        "+15555550611,default,2026-11-20T15:04:00Z,checkout,x,,",   # within the clock skew: taken
        "+15555550612,default,2026-11-21T09:00:00+02:00,checkout,x,,",
        "+15555550613,default,9999-12-31T23:59:59-23:59,checkout,x,,",
        "+15555550614,default,2025-01-02T10:00:00Z,checkout,I agree\x00,,"))
    assert job["status"] == "done" and (job["rows_applied"], job["rows_rejected"]) == (1, 3), job
    errors = (await client.get(f"/v1/imports/{job['id']}/errors", headers=headers)).json()
    assert errors == [
        {"line": 3, "reason": "consent time '2026-11-21T09:00:00+02:00' is in the future"},
        {"line": 4, "reason": "unreadable consent time '9999-12-31T23:59:59-23:59' (use ISO 8601)"},
        {"line": 5, "reason": "a field contains a NUL character"},
    ]


async def test_an_import_never_opts_back_in_someone_who_opted_out_later(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550607")
    await phone.text("STOP")
    await phone.receive()
    job = await run_import(client, headers, csv_file("+15555550607,default,2025-01-02T10:00:00Z,x,x,,"))
    assert job["rows_rejected"] == 1
    assert (await consent_of(client, headers, phone.number))["current"]["default"] == "opted_out"


@pytest.mark.parametrize("content, reason", [
    ("phone,opted_in_at\n+15555550608,2025-01-02T10:00:00Z\n".encode("utf-16"), "not UTF-8"),
    (b"+15555550608,2025-01-02T10:00:00Z\n", "missing header"),
    (b"phone,opted_in_at\n+15555550608,2025-01-02\n\xff\xfe broken,\n", "not UTF-8"),
], ids=["utf-16", "no header", "broken bytes late in the file"])
async def test_a_broken_file_fails_whole_and_applies_nothing(world, content, reason):
    _ctx, client, headers = world
    job = await run_import(client, headers, content)
    assert job["status"] == "failed" and reason in job["error"]
    assert job["rows_applied"] == 0
    assert (await consent_of(client, headers, "+15555550608"))["current"]["default"] is None


async def test_duplicate_phones_in_one_file_are_handled_once(world):
    _ctx, client, headers = world
    row = "+15555550609,default,2025-01-02T10:00:00Z,x,x,,"
    job = await run_import(client, headers, csv_file(row, row))
    assert job["status"] == "done" and job["rows_applied"] + job["rows_unchanged"] == 2
    assert len((await consent_of(client, headers, "+15555550609"))["history"]) == 1


async def test_an_upload_over_the_limit_is_413_and_keeps_nothing(world):
    ctx, client, headers = world
    ctx.settings.import_max_bytes = 100
    resp = await client.post("/v1/imports", headers={**headers, "content-type": "text/csv"},
                             content=csv_file(*GOOD))
    assert resp.status_code == 413 and "PARLEY_IMPORT_MAX_BYTES" in resp.text
    assert list((ctx.settings.data_dir / "imports").glob("*")) == []


async def test_consent_export_for_the_tenant_is_a_csv_of_every_event(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550610")
    await phone.text("JOIN")
    await phone.receive()
    await phone.text("yes")
    await phone.receive(2)
    await phone.text("STOP")
    await phone.receive()
    resp = await client.get("/v1/consent/export.csv", headers=headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = resp.text.strip().splitlines()
    assert lines[0].startswith("at,phone,program_id,event,status")
    mine = [line.split(",")[3] for line in lines[1:] if phone.number in line]
    assert mine == ["opt_in_request", "confirmation", "opt_out"]


async def test_marketing_to_a_number_without_consent_is_suppressed_but_help_is_answered(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550611")
    resp = await client.post("/v1/messages", headers=headers,
                             json={"to": phone.number, "body": "Flash sale!", "kind": "marketing"})
    assert resp.status_code == 201, resp.text
    assert (resp.json()["status"], resp.json()["reason"]) == (
        "suppressed", "no marketing consent recorded for program 'default'")
    await phone.text("HELP")
    (help_text,) = await phone.receive()
    assert "Reply HELP for help" in help_text


async def test_a_do_not_contact_number_gets_nothing_even_after_consent(world):
    _ctx, client, headers = world
    phone = Phone(client, "+15555550612")
    await phone.text("JOIN")
    await phone.receive()
    await phone.text("yes")
    await phone.receive(2)
    assert (await client.post("/v1/dnc", headers=headers, json={"phone": phone.number})).status_code == 201
    for kind in ("marketing", "transactional"):
        resp = await client.post("/v1/messages", headers=headers,
                                 json={"to": phone.number, "body": "Hello", "kind": kind})
        assert (resp.json()["status"], resp.json()["reason"]) == ("suppressed", "on the do-not-contact list")
    resp = await client.post("/v1/opt-ins", headers=headers, json={"phone": phone.number, "disclosure": "x"})
    assert resp.status_code == 409


async def test_the_do_not_contact_list_pages_by_cursor(world):
    _ctx, client, headers = world
    phones = [f"+1555555064{i}" for i in range(5)]
    resp = await client.post("/v1/dnc/import", headers={**headers, "content-type": "text/csv"},
                             content="phone\n" + "\n".join(reversed(phones)))
    assert resp.json() == {"added": 5, "errors": []}
    for limit in (1, 2, 5):
        items = await walk_pages(client, "/v1/dnc", headers, limit=limit)
        assert [item["phone"] for item in items] == phones, limit
    resp = await client.get("/v1/dnc", headers=headers, params={"after": "not-a-cursor!"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["query", "after"]
