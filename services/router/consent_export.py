"""Consent evidence for legal requests: one subscriber's full history (JSON) and a tenant's whole
trail (CSV, streamed row by row so millions of records never sit in memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models.router import ConsentAudit

CSV_COLUMNS = ("at", "phone", "program_id", "event", "status", "keyword", "source",
               "source_message_id", "source_text", "evidence")


def audit_dict(row: ConsentAudit) -> dict:
    return {"at": row.at.isoformat(), "program_id": row.program_id, "event": row.event,
            "status": row.status, "keyword": row.keyword, "source": row.source,
            "source_message_id": row.source_message_id, "source_text": row.source_text,
            "evidence": row.evidence}


async def history(session: AsyncSession, tenant_id: str, phone: str) -> list[dict]:
    rows = await session.scalars(select(ConsentAudit).where(
        ConsentAudit.tenant_id == tenant_id, ConsentAudit.phone == phone).order_by(ConsentAudit.id))
    return [audit_dict(r) for r in rows]


async def csv_stream(sessions: async_sessionmaker, tenant_id: str) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async with sessions() as session:
        result = await session.stream_scalars(
            select(ConsentAudit).where(ConsentAudit.tenant_id == tenant_id)
            .order_by(ConsentAudit.phone, ConsentAudit.id).execution_options(yield_per=1000))
        async for row in result:
            item = audit_dict(row)
            writer.writerow([item["at"], row.phone, *(item[c] for c in CSV_COLUMNS[2:9]),
                             orjson.dumps(row.evidence).decode() if row.evidence else ""])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


async def purge(session: AsyncSession, older_than_days: int, now: datetime) -> int:
    """Drop evidence past the retention period (never shorter than the TCPA's four years)."""
    result = await session.execute(delete(ConsentAudit).where(
        ConsentAudit.at < now - timedelta(days=older_than_days)))
    return result.rowcount or 0
