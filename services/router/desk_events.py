"""GET /v1/conversations/events: the agent queue as a stream of server-sent events, so a desk
sees a new hand-off, a claim or a subscriber's new message without reloading.

Authenticated like every /v1 route (the key in a header: a browser reads the stream with
`fetch`, since EventSource cannot send one). Each `queue` event is the whole queue as
`GET /v1/conversations?status=agent` lists it (oldest first), each entry with `last_line`, the id
of its latest transcript line, so a client showing one conversation knows when to fetch it again.
The first event comes at once; the next whenever anything in it changes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from libs.common import streams
from libs.common.auth import TenantDep
from libs.common.db.models.router import Conversation, TranscriptLine
from libs.common.service import Ctx, CtxDep

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

POLL_S = 0.5  # a new hand-off shows within this (plus a query) on every replica
MAX_STREAMS_PER_TENANT = 50  # per process: desks open in browser tabs, not one per request
QUEUE_LIMIT = 500


def entry(row: Conversation, last_line: int | None) -> dict:
    return {"id": row.id, "phone": row.phone, "flow_id": row.flow_id, "step": row.step,
            "status": row.status, "reason": row.handoff_reason,
            "handed_off_at": row.handed_off_at.isoformat() if row.handed_off_at else None,
            "assignee": row.assignee,
            "assigned_at": row.assigned_at.isoformat() if row.assigned_at else None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None,
            "last_line": last_line}


async def queue(ctx: Ctx, tenant_id: str) -> list[dict]:
    """The queue, oldest hand-off first, with each conversation's latest transcript line id."""
    last = (select(TranscriptLine.conversation_id, func.max(TranscriptLine.id).label("last_line"))
            .where(TranscriptLine.tenant_id == tenant_id).group_by(TranscriptLine.conversation_id)
            .subquery())
    query = (select(Conversation, last.c.last_line)
             .outerjoin(last, last.c.conversation_id == Conversation.id)
             .where(Conversation.tenant_id == tenant_id, Conversation.status == "agent")
             .order_by(Conversation.handed_off_at, Conversation.id).limit(QUEUE_LIMIT))
    async with ctx.sessions() as session:
        return [entry(row, last_line) for row, last_line in (await session.execute(query)).all()]


@router.get("/events", response_class=StreamingResponse, responses={
    200: {"content": {"text/event-stream": {}}, "description": "`queue` events, heartbeats."},
    429: {"description": "Too many open streams for this tenant."}})
async def queue_events(request: Request, tenant_id: TenantDep, ctx: CtxDep) -> StreamingResponse:
    """The agent queue, sent again whenever it changes (`event: queue`, `data:` the list)."""
    registry = streams.of(request.app)
    registry.admit(tenant_id, MAX_STREAMS_PER_TENANT)  # refused before the response starts

    async def body():
        with registry.held(tenant_id):
            async for chunk in streams.poll_stream(request, lambda: queue(ctx, tenant_id), "queue",
                                                   POLL_S):
                yield chunk

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
