"""Subscription lifecycle over REST: /v1/programs, /v1/opt-ins (web and API double opt-in),
/v1/consent (evidence per subscriber, CSV for the tenant), /v1/dnc (do-not-contact) and
/v1/imports (streamed bulk import with progress)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, ValidationError
from sqlalchemy import select

from libs.common.auth import TenantDep
from libs.common.cursors import PhoneAfter, phone_cursor
from libs.common.db.models.router import (
    ConsentAudit,
    DncEntry,
    ImportJob,
    ImportRowError,
    OptInRequest,
    Program,
)
from libs.common.events.sms_outbound import SendSms
from libs.common.inputs import Input, past_utc
from libs.common.phone import InvalidPhone, is_short_code, to_e164
from libs.common.service import CtxDep, refusal_details
from services.router import consent_export, import_jobs, rules_cache, store
from services.router.programs import DEFAULT_PROGRAM, ProgramDef, confirm_request

programs = APIRouter(prefix="/v1/programs", tags=["programs"])
opt_ins = APIRouter(prefix="/v1/opt-ins", tags=["opt-ins"])
consent = APIRouter(prefix="/v1/consent", tags=["consent"])
dnc = APIRouter(prefix="/v1/dnc", tags=["do-not-contact"])
imports = APIRouter(prefix="/v1/imports", tags=["imports"])


def _phone(raw: str, field: str = "phone") -> str:
    try:
        phone = to_e164(raw)
    except InvalidPhone as exc:
        raise HTTPException(422, f"{field}: {exc}") from exc
    if is_short_code(phone):
        raise HTTPException(422, f"{field}: a subscriber's number cannot be a short code")
    return phone


# --- programs -----------------------------------------------------------------------------------

@programs.put("/{program_id}")
async def put_program(program_id: str, body: dict, tenant_id: TenantDep, ctx: CtxDep,
                      response: Response) -> dict:
    try:
        program = ProgramDef.model_validate({**body, "id": program_id})
    except ValidationError as exc:
        raise HTTPException(422, refusal_details(exc.errors(include_url=False))) from exc
    numbers = [_phone(n, "numbers") if not n.isdigit() else n for n in program.numbers]
    program = program.model_copy(update={"numbers": numbers})
    now = ctx.clock()
    async with ctx.sessions() as session, session.begin():
        row = await session.get(Program, (tenant_id, program_id))
        response.status_code = 201 if row is None else 200
        if row is None:
            row = Program(tenant_id=tenant_id, id=program_id, created_at=now)
            session.add(row)
        row.definition, row.updated_at = program.model_dump(mode="json"), now
    rules_cache.invalidate(ctx, tenant_id)
    return row.definition


@programs.get("")
async def list_programs(tenant_id: TenantDep, ctx: CtxDep) -> list[dict]:
    async with ctx.sessions() as session:
        rules = await rules_cache.tenant_rules(ctx, session, tenant_id)
    return [p.model_dump(mode="json") for p in rules.programs.values()]


# --- web and API opt-in -------------------------------------------------------------------------

class OptInIn(Input):
    phone: str
    program: str = DEFAULT_PROGRAM
    disclosure: str = Field(min_length=1, max_length=4000, description="The exact text the person saw.")
    source_url: str | None = Field(None, max_length=2000)
    ip: str | None = Field(None, max_length=64)
    user_agent: str | None = Field(None, max_length=1000)
    at: datetime | None = Field(None, description="When the person submitted the form (UTC).")
    channel: str = Field("web", pattern="^(web|api)$")


@opt_ins.post("", status_code=202)
async def request_opt_in(body: OptInIn, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    """Record the evidence and text the confirmation request; consent counts only after the Y."""
    phone = _phone(body.phone)
    now = ctx.clock()
    try:
        submitted_at = past_utc(body.at or now, now)
    except ValueError as exc:
        raise HTTPException(422, [{"loc": ["body", "at"], "msg": f"at: {exc}"}]) from exc
    async with ctx.sessions() as session, session.begin():
        rules = await rules_cache.tenant_rules(ctx, session, tenant_id)
        program = rules.programs.get(body.program)
        if program is None:
            raise HTTPException(422, f"unknown program '{body.program}'")
        if await session.get(DncEntry, (tenant_id, phone)):
            raise HTTPException(409, "the number is on the do-not-contact list")
        if await store.consent(session, tenant_id, phone, program.id) == "opted_in":
            return {"status": "already_subscribed"}
        evidence = {"channel": body.channel, "disclosure": body.disclosure, "source_url": body.source_url,
                    "ip": body.ip, "user_agent": body.user_agent,
                    "submitted_at": submitted_at.isoformat(), "requested_at": now.isoformat()}
        request_id = uuid.uuid4().hex
        session.add(OptInRequest(id=request_id, tenant_id=tenant_id, program_id=program.id, phone=phone,
                                 channel=body.channel, evidence=evidence, status="pending",
                                 requested_at=now,
                                 expires_at=now + timedelta(hours=program.opt_in_expiry_hours)))
        session.add(ConsentAudit(tenant_id=tenant_id, program_id=program.id, phone=phone,
                                 status="requested", event="opt_in_request", source=body.channel,
                                 evidence=evidence, at=now))
        from_number = program.numbers[0] if program.numbers else None
        await ctx.bus.emit(SendSms(tenant_id=tenant_id, phone=phone, kind="transactional",
                                   body=program.confirm_request_text or confirm_request(rules.brand),
                                   from_number=from_number, program_id=program.id,
                                   action_id=uuid.uuid5(uuid.NAMESPACE_URL, f"opt-in:{request_id}").hex))
    return {"status": "confirmation_requested", "request_id": request_id}


# --- consent evidence ---------------------------------------------------------------------------

@consent.get("/export.csv")
async def export_csv(tenant_id: TenantDep, ctx: CtxDep) -> StreamingResponse:
    disposition = f'attachment; filename="consent-{tenant_id}.csv"'
    return StreamingResponse(consent_export.csv_stream(ctx.sessions, tenant_id), media_type="text/csv",
                             headers={"content-disposition": disposition})


@consent.get("/{phone}")
async def subscriber_consent(phone: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    phone = _phone(phone)
    async with ctx.sessions() as session:
        history = await consent_export.history(session, tenant_id, phone)
        rules = await rules_cache.tenant_rules(ctx, session, tenant_id)
        current = {p: await store.consent(session, tenant_id, phone, p) for p in rules.programs}
        on_dnc = await session.get(DncEntry, (tenant_id, phone)) is not None
    return {"phone": phone, "current": current, "do_not_contact": on_dnc, "history": history}


# --- do-not-contact -----------------------------------------------------------------------------

class DncIn(Input):
    phone: str
    reason: str | None = Field(None, max_length=200)


@dnc.post("", status_code=201)
async def add_dnc(body: DncIn, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    phone = _phone(body.phone)
    async with ctx.sessions() as session, session.begin():
        if await session.get(DncEntry, (tenant_id, phone)) is None:
            session.add(DncEntry(tenant_id=tenant_id, phone=phone, reason=body.reason, added_at=ctx.clock()))
    return {"phone": phone}


@dnc.post("/import")
async def import_dnc(request: Request, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    """A CSV with a `phone` column (or one number per line): added, and bad lines reported."""
    raw = (await request.body()).decode("utf-8-sig", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(raw, newline="")))
    except csv.Error as exc:
        raise HTTPException(422, f"unreadable CSV: {exc}") from exc
    start = 1 if rows and rows[0] and rows[0][0].strip().lower() == "phone" else 0
    added, errors = 0, []
    async with ctx.sessions() as session, session.begin():
        for line, row in enumerate(rows[start:], start=start + 1):
            if not row or not row[0].strip():
                continue
            try:
                phone = to_e164(row[0])
            except InvalidPhone:
                errors.append({"line": line, "reason": f"invalid phone {row[0]!r}"})
                continue
            if await session.get(DncEntry, (tenant_id, phone)) is None:
                session.add(DncEntry(tenant_id=tenant_id, phone=phone, reason="imported",
                                     added_at=ctx.clock()))
                added += 1
    return {"added": added, "errors": errors}


@dnc.get("")
async def list_dnc(tenant_id: TenantDep, ctx: CtxDep, after: PhoneAfter = None,
                   limit: int = Query(1000, ge=1, le=10000)) -> dict:
    """A page of numbers by phone; pass `next_after` back as `after` for the next page."""
    query = select(DncEntry).where(DncEntry.tenant_id == tenant_id)
    if after:
        query = query.where(DncEntry.phone > after)
    async with ctx.sessions() as session:
        rows = list(await session.scalars(query.order_by(DncEntry.phone).limit(limit)))
    return {"items": [{"phone": r.phone, "reason": r.reason, "added_at": r.added_at} for r in rows],
            "next_after": phone_cursor(rows[-1].phone) if len(rows) == limit else None}


@dnc.delete("/{phone}", status_code=204)
async def remove_dnc(phone: str, tenant_id: TenantDep, ctx: CtxDep) -> Response:
    phone = _phone(phone)
    async with ctx.sessions() as session, session.begin():
        row = await session.get(DncEntry, (tenant_id, phone))
        if row is None:
            raise HTTPException(404, f"{phone} is not on the list")
        await session.delete(row)
    return Response(status_code=204)


# --- bulk import --------------------------------------------------------------------------------

def _job_out(job: ImportJob) -> dict:
    """Every data row ends imported (`rows_applied`), unchanged or rejected (`rows_rejected` counts
    the rows refused while validating and while applying), so those three add up to `rows_total`."""
    done = job.rows_applied + job.rows_unchanged + job.rows_rejected
    return {"id": job.id, "file_name": job.file_name, "program": job.program_id, "status": job.status,
            "error": job.error, "rows_total": job.rows_total, "rows_valid": job.rows_valid,
            "rows_applied": job.rows_applied, "rows_unchanged": job.rows_unchanged,
            "rows_rejected": job.rows_rejected,
            "progress": 1.0 if job.status == "done" else (done / job.rows_total if job.rows_total else 0.0),
            "created_at": job.created_at, "finished_at": job.finished_at}


@imports.post("", status_code=202)
async def upload(request: Request, tenant_id: TenantDep, ctx: CtxDep,
                 program: str = Query(DEFAULT_PROGRAM), file_name: str = Query("upload.csv", max_length=300)
                 ) -> dict:
    """Stream a CSV to disk (never whole in memory), then import it in the background."""
    async with ctx.sessions() as session:
        rules = await rules_cache.tenant_rules(ctx, session, tenant_id)
    if program not in rules.programs:
        raise HTTPException(422, f"unknown program '{program}'")
    job_id = uuid.uuid4().hex
    folder = ctx.settings.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}.csv"
    size, limit = 0, ctx.settings.import_max_bytes
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise HTTPException(413, f"the file is over {limit:,} bytes (PARLEY_IMPORT_MAX_BYTES)")
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise HTTPException(422, "the file is empty")
    async with ctx.sessions() as session, session.begin():
        session.add(ImportJob(id=job_id, tenant_id=tenant_id, file_name=file_name, program_id=program,
                              path=str(path), status="validating", created_at=ctx.clock()))
    import_jobs.start(ctx, job_id)
    return {"id": job_id, "status": "validating", "bytes": size}


async def _own_job(session, tenant_id: str, job_id: str) -> ImportJob:
    job = await session.get(ImportJob, job_id)
    if job is None or job.tenant_id != tenant_id:
        raise HTTPException(404, f"unknown import '{job_id}'")
    return job


@imports.get("/{job_id}")
async def job_status(job_id: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
    async with ctx.sessions() as session:
        return _job_out(await _own_job(session, tenant_id, job_id))


@imports.get("/{job_id}/errors")
async def job_errors(job_id: str, tenant_id: TenantDep, ctx: CtxDep, after_line: int = 0,
                     limit: int = Query(1000, ge=1, le=10000)) -> list[dict]:
    async with ctx.sessions() as session:
        await _own_job(session, tenant_id, job_id)
        rows = await session.scalars(select(ImportRowError).where(
            ImportRowError.job_id == job_id, ImportRowError.line > after_line)
            .order_by(ImportRowError.line).limit(limit))
        return [{"line": r.line, "reason": r.reason} for r in rows]


@imports.get("")
async def list_jobs(tenant_id: TenantDep, ctx: CtxDep) -> list[dict]:
    async with ctx.sessions() as session:
        rows = await session.scalars(select(ImportJob).where(ImportJob.tenant_id == tenant_id)
                                     .order_by(ImportJob.created_at.desc()).limit(100))
        return [_job_out(r) for r in rows]
