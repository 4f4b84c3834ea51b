"""A deactivated flow cannot be started (keyword, API, another flow's action), while a
conversation already in it goes on; activating it again restores every way in."""

from __future__ import annotations

from libs.common.testing.phone import Phone


async def test_a_deactivated_flow_is_not_started_by_its_keyword_and_the_api_refuses_it(playbooks):
    _ctx, client, headers = playbooks
    assert (await client.post("/v1/flows/welcome/deactivate", headers=headers)).status_code == 200
    phone = Phone(client, "+15555550701")
    await phone.text("SHOP")
    await phone.text("SHOES")  # another campaign still answers, so SHOP's silence is the flow's
    (body,) = await phone.receive()
    assert body.startswith("Shoes it is!")  # the first message is SHOES' answer: SHOP sent none
    convs = (await client.get("/v1/conversations", headers=headers,
                              params={"phone": phone.number})).json()
    assert [c for c in convs if c["flow_id"] == "welcome"] == []
    started = await client.post("/v1/conversations/start", headers=headers,
                                json={"phone": phone.number, "flow_id": "welcome"})
    assert started.status_code == 409 and "deactivated" in started.json()["detail"]

    assert (await client.post("/v1/flows/welcome/activate", headers=headers)).status_code == 200
    await phone.text("SHOP")
    assert (await phone.receive())[0].startswith("Welcome to Acme Shoes!")


async def test_a_conversation_already_in_a_deactivated_flow_goes_on(playbooks):
    _ctx, client, headers = playbooks
    phone = Phone(client, "+15555550702")
    await phone.text("SHOP")
    assert (await phone.receive())[0].startswith("Welcome to Acme Shoes!")
    await client.post("/v1/flows/welcome/deactivate", headers=headers)
    await phone.text("2")
    assert (await phone.receive())[0].startswith("Love it! New bags just dropped")
