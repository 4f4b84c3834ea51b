"""Compliance with storage, on both profiles: the tenant's revoke-all setting and what a
revocation then writes to the consent audit trail; the one clarifying question, recorded; the
Spanish twins answered in Spanish."""

from __future__ import annotations

from libs.common.testing.app import eventually
from libs.common.testing.consent import consent_of, subscribe
from libs.common.testing.phone import Phone

PROGRAMS = {"default": ("+15555550000", {"name": "Offers"}),
            "alerts": ("+15555550009", {"name": "Order alerts", "consent_exempt": True,
                                        "join_keywords": ["ALERTS"]}),
            "club": ("+15555550008", {"name": "VIP club", "join_keywords": ["CLUB"]})}


async def test_the_revoke_all_setting_defaults_to_the_rules_date_and_can_be_changed(playbooks):
    _ctx, client, headers = playbooks
    resp = await client.get("/v1/tenants/acme", headers=headers)
    assert resp.json()["revoke_all_from"] == "2027-01-31"
    for value in ("2026-11-01", None, "2027-01-31"):
        resp = await client.patch("/v1/tenants/acme", headers=headers, json={"revoke_all_from": value})
        assert resp.status_code == 200 and resp.json()["revoke_all_from"] == value, resp.text
    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"revoke_all_from": "soon"})
    assert resp.status_code == 422 and "revoke_all_from" in resp.text


async def _three_programs(ctx, client, headers, phone: str) -> None:
    for program, (number, extra) in PROGRAMS.items():
        resp = await client.put(f"/v1/programs/{program}", headers=headers,
                                json={"numbers": [number], **extra})
        assert resp.status_code in (200, 201), resp.text
        if number != "+15555550000":
            resp = await client.post("/v1/numbers", headers=headers,
                                     json={"number": number, "carrier": "simulator"})
            assert resp.status_code == 201, resp.text
        await subscribe(ctx, "acme", phone, program)


async def test_once_in_force_a_stop_to_one_program_revokes_all_but_the_exempt_one(playbooks):
    ctx, client, headers = playbooks
    resp = await client.patch("/v1/tenants/acme", headers=headers,
                              json={"revoke_all_from": "2026-11-01"})
    assert resp.status_code == 200, resp.text
    phone = Phone(client, "+15555550601", parley="+15555550008")
    await _three_programs(ctx, client, headers, phone.number)

    await phone.text("STOP")
    (confirmation,) = await phone.receive()
    assert confirmation == ("Acme Shoes: You are unsubscribed from all Acme Shoes texts except "
                            "Order alerts and will receive no more messages. Reply START to "
                            "resubscribe.")
    record = await consent_of(client, headers, phone.number)
    assert record["current"] == {"alerts": "opted_in", "club": "opted_out", "default": "opted_out"}
    rows = [h for h in record["history"] if h["status"] == "opted_out"]
    assert sorted(h["program_id"] for h in rows) == ["club", "default"]
    for row in rows:
        assert row["event"] == "revoke_all" and row["keyword"] == "STOP"
        assert row["evidence"]["rule"] == "47 CFR 64.1200(a)(10)"
        assert row["evidence"]["replied_to_program"] == "club"
        assert row["evidence"]["kept"] == ["alerts"] and row["evidence"]["in_force_from"] == "2026-11-01"


async def test_before_the_date_a_stop_ends_only_the_program_texted(playbooks):
    ctx, client, headers = playbooks  # the clock is at 2026-11-20; the default date is 2027-01-31
    phone = Phone(client, "+15555550602", parley="+15555550008")
    await _three_programs(ctx, client, headers, phone.number)
    await phone.text("stop")
    (confirmation,) = await phone.receive()
    assert confirmation.startswith("Acme Shoes: You are unsubscribed and will receive no more")
    record = await consent_of(client, headers, phone.number)
    assert record["current"] == {"alerts": "opted_in", "club": "opted_out", "default": "opted_in"}
    assert [h["event"] for h in record["history"] if h["status"] == "opted_out"] == ["opt_out"]


async def test_an_unclear_text_is_asked_about_once_and_both_are_in_the_audit_trail(playbooks):
    ctx, client, headers = playbooks
    phone = Phone(client, "+15555550603")
    await subscribe(ctx, "acme", phone.number)
    await phone.text("not interested")
    (question,) = await phone.receive()
    assert question == ("Acme Shoes: Do you want to stop getting our texts? Reply STOP to "
                        "unsubscribe, or HELP for help.")
    await phone.text("I'm done")

    async def two_notes():
        history = (await consent_of(client, headers, phone.number))["history"]
        return history if len(history) == 2 else None

    history = await eventually(two_notes)
    assert [(h["event"], h["status"], h["source_text"]) for h in history] == [
        ("clarify_asked", "unclear", "not interested"), ("clarify_skipped", "unclear", "I'm done")]
    await phone.nothing_more()
    assert (await consent_of(client, headers, phone.number))["current"]["default"] == "opted_in"
    await phone.text("STOP")
    (confirmation,) = await phone.receive()
    assert "unsubscribed" in confirmation


async def test_the_spanish_twins_are_answered_in_spanish(playbooks):
    ctx, client, headers = playbooks
    phone = Phone(client, "+15555550604")
    await subscribe(ctx, "acme", phone.number)
    await phone.text("AYUDA")
    (help_text,) = await phone.receive()
    assert help_text.startswith("Acme Shoes: mensajes de marketing recurrentes y automatizados.")
    assert "AYUDA" in help_text and "PARAR" in help_text and "tarifas" in help_text
    await phone.text("no más mensajes")
    (confirmation,) = await phone.receive()
    assert confirmation.startswith("Acme Shoes: Se ha dado de baja")
    record = await consent_of(client, headers, phone.number)
    assert record["current"]["default"] == "opted_out"
    assert record["history"][-1]["keyword"] == "NO MÁS MENSAJES"


async def test_a_program_in_spanish_and_its_own_words_are_saved_and_validated(playbooks):
    _ctx, client, headers = playbooks
    resp = await client.put("/v1/programs/ofertas", headers=headers, json={
        "numbers": ["+15555550007"], "language": "es", "join_keywords": ["OFERTAS"],
        "compliance_words": {"es": {"opt_out": ["NO QUIERO"]}}})
    assert resp.status_code == 201, resp.text
    resp = await client.put("/v1/programs/bad", headers=headers, json={
        "compliance_words": {"en": {"help": ["STOP"]}}})
    assert resp.status_code == 422 and "compliance_words" in resp.text and "STOP" in resp.text
    resp = await client.put("/v1/programs/fr", headers=headers, json={"language": "fr"})
    assert resp.status_code == 422 and "texts.fr.help" in resp.text
