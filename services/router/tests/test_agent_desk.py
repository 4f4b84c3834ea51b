"""The agent desk (/v1/conversations) and the routing that feeds it, on both profiles."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.testing.app import eventually
from libs.common.testing.phone import Phone


@pytest.fixture
def desk(playbooks):
    return playbooks


ACK = "Thanks! A team member will reply shortly."


async def queue(client, headers):
    return (await client.get("/v1/conversations", headers=headers, params={"status": "agent"})).json()


async def test_fallbacks_exhausted_hand_the_conversation_to_an_agent_who_replies_and_resolves(desk):
    _ctx, client, headers = desk
    phone = Phone(client, "+15555550401")
    await phone.text("SHOP")
    await phone.receive()
    for attempt in ("pizza", "tacos"):
        await phone.text(attempt)
        (clarify,) = await phone.receive()
        assert clarify == "Sorry, we didn't recognize that. Reply 1, 2 or 3."
    await phone.text("sushi")
    assert await phone.receive() == [ACK]  # one acknowledgement at the hand-off
    (entry,) = await eventually(lambda: queue(client, headers))
    assert entry["phone"] == phone.number and entry["reason"] == "fallback exhausted"

    convo = (await client.get(f"/v1/conversations/{entry['id']}", headers=headers)).json()
    assert [(t["direction"], t["body"]) for t in convo["transcript"] if t["direction"] == "in"] == [
        ("in", "pizza"), ("in", "tacos"), ("in", "sushi")]

    await phone.text("anyone there?")  # the agent owns it: automation is silent
    resp = await client.post(f"/v1/conversations/{entry['id']}/reply", headers=headers,
                             json={"body": "Hi, this is Sam. How can I help?"})
    assert resp.status_code == 202
    assert await phone.receive() == ["Hi, this is Sam. How can I help?"]

    resolved = await client.post(f"/v1/conversations/{entry['id']}/resolve", headers=headers)
    assert resolved.json()["status"] == "active" and await queue(client, headers) == []
    await phone.text("2")  # automation answers again, at the same step
    assert "New bags just dropped" in (await phone.receive())[0]


async def test_the_queue_lists_oldest_first_with_reasons_and_is_tenant_scoped(desk, admin_headers):
    ctx, client, headers = desk
    for n, number in enumerate(("+15555550402", "+15555550403")):
        phone = Phone(client, number)
        resp = await client.post("/v1/conversations/start", headers=headers,
                                 json={"phone": number, "flow_id": "feedback"})
        assert resp.status_code in (200, 202), resp.text  # 202: still pending after 2 s
        await phone.receive()
        ctx.clock.advance(minutes=n + 1)
        await phone.text("1")
        await phone.receive()
    listed = await eventually(lambda: _at_least(queue(client, headers), 2))
    assert [c["phone"] for c in listed] == ["+15555550402", "+15555550403"]
    other = await client.post("/v1/tenants", headers=admin_headers, json={"id": "other", "name": "O"})
    other_key = {"Authorization": f"Bearer {other.json()['api_key']}"}
    assert await queue(client, other_key) == []
    assert (await client.get(f"/v1/conversations/{listed[0]['id']}", headers=other_key)).status_code == 404


async def _at_least(coro, n):
    got = await coro
    return got if len(got) >= n else None


async def test_unmatched_texts_go_to_an_agent_when_the_tenant_wants_it(desk):
    _ctx, client, headers = desk
    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"fallback_to_agent": True})
    assert resp.status_code == 200 and resp.json()["fallback_to_agent"] is True
    phone = Phone(client, "+15555550404")
    await phone.text("Do you ship to Canada?")
    assert await phone.receive() == [ACK]
    (entry,) = await eventually(lambda: queue(client, headers))
    assert entry["reason"] == "unmatched" and entry["phone"] == phone.number
    convo = (await client.get(f"/v1/conversations/{entry['id']}", headers=headers)).json()
    assert [(t["author"], t["body"]) for t in convo["transcript"]] == [
        ("subscriber", "Do you ship to Canada?"), ("automation", ACK)]
    await phone.nothing_more()


async def test_a_keyword_for_another_flow_ends_the_old_conversation_on_record(desk):
    _ctx, client, headers = desk
    phone = Phone(client, "+15555550405")
    await phone.text("SHOP")
    await phone.receive()
    await phone.text("QUIZ")
    (quiz,) = await phone.receive()
    assert "Quiz time" in quiz
    listed = (await client.get("/v1/conversations", headers=headers, params={"phone": phone.number})).json()
    by_flow = {c["flow_id"]: c for c in listed}
    assert by_flow["welcome"]["status"] == "ended"
    assert by_flow["welcome"]["end_reason"] == "replaced by flow quiz"
    assert by_flow["quiz"]["status"] == "active"


async def test_starting_an_unknown_flow_or_for_an_opted_out_number_is_refused(desk):
    _ctx, client, headers = desk
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": "+15555550406", "flow_id": "nope"})
    assert resp.status_code == 404
    phone = Phone(client, "+15555550406")
    await phone.text("STOP")
    await phone.receive()
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": phone.number, "flow_id": "feedback"})
    assert resp.status_code == 409


async def _queued(desk, *numbers: str) -> list[dict]:
    """Conversations handed to the desk (feedback flow, score 1), oldest first."""
    ctx, client, headers = desk
    for n, number in enumerate(numbers):
        phone = Phone(client, number)
        await client.post("/v1/conversations/start", headers=headers,
                          json={"phone": number, "flow_id": "feedback"})
        await phone.receive()
        ctx.clock.advance(minutes=n + 1)
        await phone.text("1")
        await phone.receive()
    return await eventually(lambda: _at_least(queue(client, headers), len(numbers)))


async def test_agents_claim_conversations_and_see_their_own_and_the_unclaimed_queue(desk):
    _ctx, client, headers = desk
    first, second = await _queued(desk, "+15555550411", "+15555550412")
    url = f"/v1/conversations/{first['id']}"

    ana, bob = {"agent": "ana@acme.test"}, {"agent": "bob@acme.test"}
    claimed = await client.post(f"{url}/claim", headers=headers, json=ana)
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "ana@acme.test"
    assert (await client.post(f"{url}/claim", headers=headers, json=ana)).status_code == 200

    async def listed(**params):
        resp = await client.get("/v1/conversations", headers=headers, params={"status": "agent", **params})
        return [c["id"] for c in resp.json()]

    assert await listed(unassigned="true") == [second["id"]]
    assert await listed(assignee="ana@acme.test") == [first["id"]]

    taken = await client.post(f"{url}/claim", headers=headers, json=bob)
    assert taken.status_code == 409 and "ana@acme.test" in taken.text
    wrong = await client.post(f"{url}/reply", headers=headers, json={"body": "hi", "agent": "bob@acme.test"})
    assert wrong.status_code == 409
    assert (await client.post(f"{url}/reply", headers=headers,
                              json={"body": "Hi, Ana here.", "agent": "ana@acme.test"})).status_code == 202

    replies = [t for t in (await client.get(url, headers=headers)).json()["transcript"]
               if t["author"] == "agent"]
    assert [(t["agent"], t["body"]) for t in replies] == [("ana@acme.test", "Hi, Ana here.")]

    over = await client.post(f"{url}/claim", headers=headers, json={**bob, "take_over": True})
    assert over.json()["assignee"] == "bob@acme.test"
    released = await client.post(f"{url}/release", headers=headers)
    assert released.json()["assignee"] is None
    assert await listed(unassigned="true") == [first["id"], second["id"]], "it keeps its place"

    await client.post(f"{url}/claim", headers=headers, json=bob)
    resolved = await client.post(f"{url}/resolve", headers=headers)
    assert resolved.json()["assignee"] is None
    late = await client.post(f"{url}/claim", headers=headers, json=ana)
    assert late.status_code == 409 and "not waiting for an agent" in late.text


async def test_two_agents_claiming_at_once_one_wins(desk):
    _ctx, client, headers = desk
    (entry,) = await _queued(desk, "+15555550413")
    url = f"/v1/conversations/{entry['id']}/claim"
    answers = await asyncio.gather(*(client.post(url, headers=headers, json={"agent": agent})
                                     for agent in ("ana@acme.test", "bob@acme.test")))
    assert sorted(r.status_code for r in answers) == [200, 409]
    winner = next(r.json()["assignee"] for r in answers if r.status_code == 200)
    convo = (await client.get(f"/v1/conversations/{entry['id']}", headers=headers)).json()
    assert convo["assignee"] == winner


async def automated(client, headers, conversation_id):
    """What automation said in a conversation (its transcript)."""
    convo = (await client.get(f"/v1/conversations/{conversation_id}", headers=headers)).json()
    return [t["body"] for t in convo["transcript"] if t["author"] == "automation"]


async def _transcript_has(client, headers, conversation_id, text):
    convo = (await client.get(f"/v1/conversations/{conversation_id}", headers=headers)).json()
    return any(t["body"] == text for t in convo["transcript"])


async def _handed_off(desk, number, *texts):
    """A subscriber whose unmatched text went to the desk (the tenant routes those to agents)."""
    _ctx, client, headers = desk
    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"fallback_to_agent": True})
    assert resp.status_code == 200
    phone = Phone(client, number)
    for text in texts:
        await phone.text(text)
    return phone


async def test_the_hand_off_acknowledgement_is_sent_once_per_hand_off(desk):
    _ctx, client, headers = desk
    phone = await _handed_off(desk, "+15555550421", "Where is my order?")
    assert await phone.receive() == [ACK]
    (entry,) = await eventually(lambda: queue(client, headers))
    await phone.text("Hello??")  # still waiting for the agent: nothing automated
    await phone.text("HELP")  # compliance still answers, without a second acknowledgement
    (help_text,) = await phone.receive()
    assert "Reply HELP for help" in help_text
    await eventually(lambda: _transcript_has(client, headers, entry["id"], "HELP"))
    assert await automated(client, headers, entry["id"]) == [ACK]
    await phone.nothing_more()
    await client.post(f"/v1/conversations/{entry['id']}/resolve", headers=headers)
    await phone.text("Still no parcel")  # a new hand-off: a new acknowledgement
    assert await phone.receive() == [ACK]


async def test_the_acknowledgement_is_the_tenants_text_and_can_be_turned_off(desk):
    _ctx, client, headers = desk
    resp = await client.patch("/v1/tenants/acme", headers=headers,
                              json={"handoff_text": "{brand}: Ana or Bob will text you back today."})
    assert resp.status_code == 200 and resp.json()["handoff_text"].startswith("{brand}")
    phone = await _handed_off(desk, "+15555550422", "Can I return shoes?")
    assert await phone.receive() == ["Acme Shoes: Ana or Bob will text you back today."]

    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"handoff_text": ""})
    assert resp.status_code == 200 and resp.json()["handoff_text"] == ""
    quiet = await _handed_off(desk, "+15555550423", "Can I return bags?")
    entries = await eventually(lambda: _at_least(queue(client, headers), 2))
    (entry,) = [e for e in entries if e["phone"] == quiet.number]  # same clock: no order by time
    assert await automated(client, headers, entry["id"]) == []
    await quiet.nothing_more()

    resp = await client.patch("/v1/tenants/acme", headers=headers, json={"handoff_text": None})
    assert resp.status_code == 200 and resp.json()["handoff_text"] is None  # back to the default
    again = await _handed_off(desk, "+15555550424", "Can I return jackets?")
    assert await again.receive() == [ACK]


async def test_a_flow_hand_off_that_already_explains_itself_sends_no_acknowledgement(desk):
    _ctx, client, headers = desk
    phone = Phone(client, "+15555550425")
    resp = await client.post("/v1/conversations/start", headers=headers,
                             json={"phone": phone.number, "flow_id": "feedback"})
    assert resp.status_code in (200, 202), resp.text
    (ask,) = await phone.receive()
    await phone.text("1")
    (sorry,) = await phone.receive()  # the apology says a person will text: no second message
    assert "support team will text you shortly" in sorry
    (entry,) = await eventually(lambda: queue(client, headers))
    assert await automated(client, headers, entry["id"]) == [ask, sorry]
    await phone.nothing_more()


async def test_a_reply_to_a_do_not_contact_or_opted_out_number_is_refused_with_the_reason(desk):
    _ctx, client, headers = desk
    (entry,) = await _queued(desk, "+15555550431")
    url = f"/v1/conversations/{entry['id']}"
    assert (await client.get(url, headers=headers)).json()["send_blocked"] is None
    assert (await client.post("/v1/dnc", headers=headers, json={"phone": entry["phone"]})).status_code == 201
    assert "do-not-contact" in (await client.get(url, headers=headers)).json()["send_blocked"]
    refused = await client.post(f"{url}/reply", headers=headers, json={"body": "Hi"})
    assert refused.status_code == 409 and "do-not-contact" in refused.json()["detail"]
    replies = [t for t in (await client.get(url, headers=headers)).json()["transcript"]
               if t["author"] == "agent"]
    assert replies == []  # nothing recorded as said

    (other,) = [c for c in await _queued(desk, "+15555550432") if c["phone"] == "+15555550432"]
    await Phone(client, other["phone"]).text("STOP")
    blocked = await eventually(lambda: _blocked(client, headers, other["id"]))
    assert "opted out" in blocked
    refused = await client.post(f"/v1/conversations/{other['id']}/reply", headers=headers,
                                json={"body": "Hi"})
    assert refused.status_code == 409 and "opted out" in refused.json()["detail"]


async def _blocked(client, headers, conversation_id):
    return (await client.get(f"/v1/conversations/{conversation_id}", headers=headers)).json()["send_blocked"]


async def test_a_conversation_can_come_with_the_subscribers_earlier_lines(desk):
    _ctx, client, headers = desk
    phone = await _handed_off(desk, "+15555550441", "SHOP")
    await phone.receive()
    await phone.text("1")
    await phone.receive()
    await phone.text("when does my order ship?")  # the welcome flow is over: unmatched, to the desk
    entry = await eventually(lambda: _entry_for(client, headers, phone.number))
    url = f"/v1/conversations/{entry['id']}"
    plain = (await client.get(url, headers=headers)).json()
    assert [t["body"] for t in plain["transcript"]] == ["when does my order ship?", ACK]
    assert plain["earlier"] == []
    full = (await client.get(url, headers=headers, params={"earlier": 50})).json()
    said = [(t["author"], t["body"][:16]) for t in full["earlier"]]
    assert ("automation", "Welcome to Acme ") in said and ("subscriber", "1") in said
    assert said.index(("automation", "Welcome to Acme ")) < said.index(("subscriber", "1"))
    assert all(t["conversation_id"] != entry["id"] for t in full["earlier"])
    # the welcome flow's link is shown as where it leads, not as its placeholder
    assert any("https://shop.example/" in t["body"] for t in full["earlier"])
    assert not any("{link:" in t["body"] for t in full["earlier"])
    assert len((await client.get(url, headers=headers, params={"earlier": 1})).json()["earlier"]) == 1
    assert (await client.get(url, headers=headers, params={"earlier": 999})).status_code == 422


async def _entry_for(client, headers, number):
    return next((c for c in await queue(client, headers) if c["phone"] == number), None)
