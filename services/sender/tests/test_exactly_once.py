"""The sender sends an action once however often the bus delivers it."""

from __future__ import annotations

from sqlalchemy import func, select, update

from libs.common.db.models.sender import OutboundMessage, SimulatedMessage
from libs.common.events.sms_outbound import SendSms
from services.sender.consumer import handle_outbound


def command(action_id="act-1"):
    return SendSms(tenant_id="acme", phone="+15555550100", from_number="+15555550000",
                   body="hello", action_id=action_id)


async def count(ctx, model):
    async with ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_redelivered_action_is_sent_once(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    first = await handle_outbound(command(), ctx)
    again = await handle_outbound(command(), ctx)
    assert [e.outcome for e in first] == ["sent"]
    assert again == []
    assert await count(ctx, SimulatedMessage) == 1
    assert await count(ctx, OutboundMessage) == 1


async def test_a_crash_between_record_and_send_is_resolved_without_a_double_send(suite, tenant):
    app, _ = suite
    ctx = app.state.ctx
    await handle_outbound(command("act-2"), ctx)
    # Rewind to the state a crash right after the carrier call would leave: still `sending`.
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(OutboundMessage).values(status="sending", sent_at=None))
    redelivered = await handle_outbound(command("act-2"), ctx)
    assert [e.outcome for e in redelivered] == ["sent"]
    assert await count(ctx, SimulatedMessage) == 1


async def test_an_unregistered_sending_number_fails_the_message_with_a_reason(suite, tenant):
    app, _ = suite
    cmd = SendSms(tenant_id="acme", phone="+15555550100", from_number="+15555559999", body="x")
    (event,) = await handle_outbound(cmd, app.state.ctx)
    assert event.outcome == "failed" and "no registered sending number" in event.reason
