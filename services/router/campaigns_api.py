"""/v1/campaigns: keyword rules (keywords → actions) and /v1/flows: declarative conversations.

Both accept JSON or YAML (`content-type: application/yaml`) and answer YAML when asked
(`Accept: application/yaml`). A definition that does not validate is a 422 whose detail names the
problem (unknown step, unreachable step, cycle…); for a YAML body each error also carries the
`line` and `column` it points at (`yaml_lines.py`). `POST …/{id}/activate` and `/deactivate` set
`active`: a deactivated campaign's keywords match nothing, and a deactivated flow cannot be
started (keyword, broadcast, API, another flow), while conversations already in it go on.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ValidationError

from libs.common.auth import TenantDep
from libs.common.db.models.router import CampaignRule, FlowDefinition
from libs.common.service import CtxDep, refusal_details
from services.router import definitions, rules_cache, yaml_lines
from services.router.flows.model import WEBHOOK_ALLOW_PRIVATE, Flow, Rule

campaigns = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
flows = APIRouter(prefix="/v1/flows", tags=["flows"])


def _is_yaml(request: Request) -> bool:
    return "yaml" in request.headers.get("content-type", "application/json")


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        if _is_yaml(request):
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except yaml.YAMLError as exc:
        raise HTTPException(422, [yaml_lines.syntax_error(exc)]) from exc
    except orjson.JSONDecodeError as exc:
        raise HTTPException(422, f"malformed JSON: {exc}") from exc


def _validate(model: type[BaseModel], data: Any, path_id: str | None, allow_private: bool,
              source: bytes | None = None) -> Any:
    """The validated definition, or a 422 listing each error's `loc` and `msg` (and, when the
    body was YAML `source`, the `line` and `column` it points at)."""
    if path_id is not None and isinstance(data, dict):
        data.setdefault("id", path_id)
        if data["id"] != path_id:
            raise HTTPException(422, f"id in body ({data['id']!r}) differs from the URL ({path_id!r})")
    try:
        return model.model_validate(data, context={WEBHOOK_ALLOW_PRIVATE: allow_private})
    except ValidationError as exc:
        errors = refusal_details(exc.errors(include_url=False))
        raise HTTPException(422, yaml_lines.annotate(errors, source) if source else errors) from exc


def _crud(router: APIRouter, model: type[BaseModel], table, noun: str) -> None:
    def out(row) -> dict:
        extra = {"version": row.version} if table is FlowDefinition else {"active": row.active}
        return {**row.definition, **extra, "updated_at": row.updated_at.isoformat()}

    async def save(request: Request, tenant_id: str, ctx, path_id: str | None, response: Response):
        source = await request.body() if _is_yaml(request) else None
        item = _validate(model, await _body(request), path_id, ctx.settings.webhook_allow_private,
                         source)
        async with ctx.sessions() as session, session.begin():
            row, created = await definitions.put(session, table, tenant_id, item, ctx.clock())
        rules_cache.invalidate(ctx, tenant_id)
        response.status_code = 201 if created else 200
        return out(row)

    @router.post("", status_code=201)
    async def create(request: Request, tenant_id: TenantDep, ctx: CtxDep, response: Response) -> dict:
        return await save(request, tenant_id, ctx, None, response)

    @router.put("/{item_id}")
    async def replace(item_id: str, request: Request, tenant_id: TenantDep, ctx: CtxDep,
                      response: Response) -> dict:
        return await save(request, tenant_id, ctx, item_id, response)

    @router.get("")
    async def list_items(tenant_id: TenantDep, ctx: CtxDep) -> list[dict]:
        async with ctx.sessions() as session:
            return [out(r) for r in await definitions.list_all(session, table, tenant_id)]

    @router.get("/{item_id}", responses={200: {"content": {"application/yaml": {}}}})
    async def get_item(item_id: str, request: Request, tenant_id: TenantDep, ctx: CtxDep):
        """The definition; with `Accept: application/yaml`, as YAML to edit (no server fields)."""
        async with ctx.sessions() as session:
            row = await definitions.get(session, table, tenant_id, item_id)
        if row is None:
            raise HTTPException(404, f"unknown {noun} '{item_id}'")
        if "yaml" in request.headers.get("accept", ""):
            plain = model.model_validate(row.definition).model_dump(mode="json", exclude_defaults=True)
            return Response(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True),
                            media_type="application/yaml")
        return out(row)

    async def set_active(item_id: str, tenant_id: str, ctx, active: bool) -> dict:
        async with ctx.sessions() as session, session.begin():
            row = await definitions.get(session, table, tenant_id, item_id)
            if row is None:
                raise HTTPException(404, f"unknown {noun} '{item_id}'")
            item = model.model_validate(row.definition).model_copy(update={"active": active})
            row, _ = await definitions.put(session, table, tenant_id, item, ctx.clock())
        rules_cache.invalidate(ctx, tenant_id)
        return out(row)

    @router.post("/{item_id}/activate")
    async def activate(item_id: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
        return await set_active(item_id, tenant_id, ctx, True)

    @router.post("/{item_id}/deactivate")
    async def deactivate(item_id: str, tenant_id: TenantDep, ctx: CtxDep) -> dict:
        return await set_active(item_id, tenant_id, ctx, False)

    @router.delete("/{item_id}", status_code=204)
    async def delete_item(item_id: str, tenant_id: TenantDep, ctx: CtxDep) -> Response:
        async with ctx.sessions() as session, session.begin():
            if not await definitions.delete(session, table, tenant_id, item_id):
                raise HTTPException(404, f"unknown {noun} '{item_id}'")
        rules_cache.invalidate(ctx, tenant_id)
        return Response(status_code=204)


_crud(campaigns, Rule, CampaignRule, "campaign")
_crud(flows, Flow, FlowDefinition, "flow")
