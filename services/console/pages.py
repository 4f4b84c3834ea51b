"""The console's files: `/console/` (the page), its ES modules, styles and pinned vendor files,
and `/console/config.json` (where the browser finds the /v1 API).

Every answer carries a strict Content-Security-Policy (scripts, styles, fetches only from this
origin and the configured API origin; no inline script or style, no frames, no plug-ins), so the
console can only talk to Parley. Vendor files have the version in their name and are cached for
a year; the app's own files are revalidated on every load (ETag), so an upgrade shows at once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from libs.common.config import Settings

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/console"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8",
         ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png"}

router = APIRouter(prefix=PREFIX, tags=["console"], include_in_schema=False)


def api_origin(base_url: str) -> str | None:
    """The origin of a configured API base URL (None when the API is the console's own)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def csp(base_url: str) -> str:
    connect = " ".join(filter(None, ["'self'", api_origin(base_url)]))
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")


def security_headers(settings: Settings) -> dict[str, str]:
    return {"Content-Security-Policy": csp(settings.console_api_base_url),
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin"}


def resolve(path: str) -> Path | None:
    """The file under static/ that `path` names; None for anything outside it or missing."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        return None
    return target


def _file(request: Request, target: Path, settings: Settings) -> Response:
    data = target.read_bytes()
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    vendor = "vendor" in target.relative_to(STATIC).parts
    headers = {**security_headers(settings), "ETag": etag,
               "Cache-Control": IMMUTABLE if vendor else "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return Response(data, media_type=media, headers=headers)


def _settings(request: Request) -> Settings:
    ctx = getattr(request.app.state, "ctx", None)
    return ctx.settings if ctx is not None else request.app.state.settings


@router.get("")
async def console_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get("/")
async def index(request: Request) -> Response:
    return _file(request, STATIC / "index.html", _settings(request))


@router.get("/config.json")
async def config(request: Request) -> JSONResponse:
    """What the page needs to know about where it runs: the /v1 base URL ("" = this origin)."""
    settings = _settings(request)
    return JSONResponse({"api_base": settings.console_api_base_url.rstrip("/")},
                        headers={**security_headers(settings), "Cache-Control": "no-cache"})


@router.get("/{path:path}")
async def asset(path: str, request: Request) -> Response:
    target = resolve(path)
    if target is None:
        raise HTTPException(404, f"no such console file: {path}")
    return _file(request, target, _settings(request))
