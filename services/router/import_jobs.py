"""Running an import job: validate the whole file, then apply it in idempotent batches.

A job runs as a task in the router process that received the upload (the file is on its disk
under PARLEY_DATA_DIR/imports); on start a loop resumes any job a previous process left unfinished,
from the beginning, which is safe because applying is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import delete, insert, select, update

from libs.common.db.models.router import Consent, ConsentAudit, DncEntry, ImportJob, ImportRowError
from libs.common.events import Event
from libs.common.events.subscriber_events import SubscriberEvent
from libs.common.service import Ctx
from services.router.imports import BATCH, BrokenFile, ImportRow, RowError, read_rows
from services.router.rules_cache import tenant_rules

log = structlog.get_logger("parley.router.imports")
PROGRESS_EVERY = 5000
_TASKS = "router.import_tasks"


def start(ctx: Ctx, job_id: str) -> None:
    tasks: dict[str, asyncio.Task] = ctx.state.setdefault(_TASKS, {})
    if job_id not in tasks or tasks[job_id].done():
        tasks[job_id] = asyncio.create_task(run(ctx, job_id), name=f"import:{job_id}")


async def resume_loop(ctx: Ctx) -> None:
    """Resume unfinished jobs once at start, then idle (jobs start from the upload)."""
    async with ctx.sessions() as session:
        ids = list(await session.scalars(select(ImportJob.id).where(
            ImportJob.status.in_(("validating", "applying")))))
    for job_id in ids:
        start(ctx, job_id)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()
    for task in ctx.state.get(_TASKS, {}).values():
        task.cancel()


async def _update(ctx: Ctx, job_id: str, **values) -> None:
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


async def _errors(ctx: Ctx, job_id: str, errors: list[RowError]) -> None:
    if errors:
        async with ctx.sessions() as session, session.begin():
            session.add_all(ImportRowError(job_id=job_id, line=e.line, reason=e.reason) for e in errors)


async def run(ctx: Ctx, job_id: str) -> None:
    async with ctx.sessions() as session, session.begin():
        job = await session.get(ImportJob, job_id)
        await session.execute(delete(ImportRowError).where(ImportRowError.job_id == job_id))
        tenant_id, file_name, path = job.tenant_id, job.file_name, Path(job.path)
        default_program, uploaded_at = job.program_id, job.created_at  # "the future" is after this
        rules = await tenant_rules(ctx, session, tenant_id)
    programs = frozenset(rules.programs)
    await _update(ctx, job_id, status="validating", error=None, rows_applied=0, rows_unchanged=0)
    try:
        total, valid, rejected = await _validate(ctx, job_id, path, default_program, programs,
                                                 uploaded_at)
    except BrokenFile as exc:
        await _update(ctx, job_id, status="failed", error=str(exc), finished_at=ctx.clock())
        log.info("import_failed", tenant=tenant_id, job=job_id, reason=str(exc))
        return
    await _update(ctx, job_id, status="applying", rows_total=total, rows_valid=valid,
                  rows_rejected=rejected)
    applied = unchanged = 0
    batch: list[ImportRow] = []
    with path.open("rb") as f:  # noqa: ASYNC230 - local reads of a streamed file, yielding per batch
        for item in read_rows(f, default_program, programs, uploaded_at):
            if isinstance(item, ImportRow):
                batch.append(item)
            if len(batch) >= BATCH:
                await ctx.bus.room()  # outside any transaction: consumers may need the database
                a, u, r = await _apply(ctx, tenant_id, job_id, file_name, batch)
                applied, unchanged, rejected = applied + a, unchanged + u, rejected + r
                batch = []
                await _update(ctx, job_id, rows_applied=applied, rows_unchanged=unchanged,
                              rows_rejected=rejected)
    if batch:
        a, u, r = await _apply(ctx, tenant_id, job_id, file_name, batch)
        applied, unchanged, rejected = applied + a, unchanged + u, rejected + r
    await _update(ctx, job_id, status="done", rows_applied=applied, rows_unchanged=unchanged,
                  rows_rejected=rejected, finished_at=ctx.clock())
    log.info("import_done", tenant=tenant_id, job=job_id, total=total, applied=applied,
             unchanged=unchanged, rejected=rejected)


async def _validate(ctx: Ctx, job_id: str, path: Path, default_program: str,
                    programs: frozenset[str], uploaded_at: datetime) -> tuple[int, int, int]:
    total = valid = rejected = 0
    errors: list[RowError] = []
    with path.open("rb") as f:
        for item in read_rows(f, default_program, programs, uploaded_at):
            total += 1
            if isinstance(item, RowError):
                rejected += 1
                errors.append(item)
            else:
                valid += 1
            if len(errors) >= BATCH:
                await _errors(ctx, job_id, errors)
                errors = []
            if total % PROGRESS_EVERY == 0:
                await _update(ctx, job_id, rows_total=total, rows_valid=valid, rows_rejected=rejected)
                await asyncio.sleep(0)  # a long validation must not starve the event loop
    await _errors(ctx, job_id, errors)
    return total, valid, rejected


async def _apply(ctx: Ctx, tenant_id: str, job_id: str, file_name: str,
                 rows: list[ImportRow]) -> tuple[int, int, int]:
    """One batch in one transaction; events are published before it commits. New rows go in as
    one executemany per table: ORM objects would cost more than the rest of the import."""
    now = ctx.clock()
    phones = {r.phone for r in rows}
    keyed = [(r.key(file_name), r) for r in rows]
    keys = {k for k, _ in keyed}
    applied = unchanged = 0
    errors: list[RowError] = []
    events: list[Event] = []
    audits: list[dict] = []
    new_consents: dict[tuple[str, str], dict] = {}
    async with ctx.sessions() as session, session.begin():
        dnc = set(await session.scalars(select(DncEntry.phone).where(
            DncEntry.tenant_id == tenant_id, DncEntry.phone.in_(phones))))
        seen = set(await session.scalars(select(ConsentAudit.import_key).where(
            ConsentAudit.import_key.in_(keys))))
        consents = {(c.program_id, c.phone): c for c in await session.scalars(select(Consent).where(
            Consent.tenant_id == tenant_id, Consent.phone.in_(phones)))}
        for key, row in keyed:
            current = consents.get((row.program_id, row.phone))
            if row.phone in dnc:
                errors.append(RowError(row.line, "on the do-not-contact list"))
            elif key in seen:
                unchanged += 1  # imported before, or a duplicate row earlier in this file
            elif current is not None and current.status == "opted_out" \
                    and current.updated_at > row.opted_in_at:
                errors.append(RowError(row.line, f"opted out on {current.updated_at.date()}, after "
                                                 "the imported consent"))
            else:
                applied += 1
                seen.add(key)
                audits.append(_audit(tenant_id, file_name, key, row, now))
                new = (row.program_id, row.phone) not in consents \
                    and (row.program_id, row.phone) not in new_consents
                changed = new or (current is not None and current.status != "opted_in")
                if new:
                    new_consents[(row.program_id, row.phone)] = dict(
                        tenant_id=tenant_id, program_id=row.program_id, phone=row.phone,
                        status="opted_in", updated_at=now)
                elif changed:
                    current.status, current.updated_at = "opted_in", now
                events.extend(_facts(tenant_id, file_name, row, changed, now))
        if audits:
            await session.execute(insert(ConsentAudit.__table__), audits)
        if new_consents:
            await session.execute(insert(Consent.__table__), list(new_consents.values()))
        await _errors_in(session, job_id, errors)
        await ctx.bus.emit_many(events)
    return applied, unchanged, len(errors)


async def _errors_in(session, job_id: str, errors: list[RowError]) -> None:
    session.add_all(ImportRowError(job_id=job_id, line=e.line, reason=e.reason) for e in errors)


def _audit(tenant_id: str, file_name: str, key: str, row: ImportRow, now) -> dict:
    evidence = {"file": file_name, "line": row.line, "source": row.source,
                "consent_text": row.consent_text, "opted_in_at": row.opted_in_at.isoformat()}
    return dict(tenant_id=tenant_id, program_id=row.program_id, phone=row.phone, status="opted_in",
                event="import", keyword=None, source="import", evidence=evidence, import_key=key,
                source_message_id=None, source_text=row.consent_text, at=now)


def _facts(tenant_id: str, file_name: str, row: ImportRow, changed: bool, now) -> list[Event]:
    """One event per row (consent, labels and attributes together): segmentation applies a whole
    subscriber in one step, and a big import puts a quarter of the events on the bus."""
    if not (changed or row.labels or row.attributes):
        return []
    return [SubscriberEvent(tenant_id=tenant_id, phone=row.phone, occurred_at=now, type="imported",
                            consent="opted_in" if changed else None, program_id=row.program_id,
                            labels=row.labels, attributes=row.attributes,
                            reason=f"import:{file_name}")]
