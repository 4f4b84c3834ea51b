"""Opaque page cursors: the `next_after` a page returns and the `after` that asks for the page
after it, for every API that pages through rows by a key (subscribers, segment members,
non-responders, do-not-contact numbers).

A cursor is base64url without padding (letters, digits, `-` and `_` only, so it reaches the
server intact even when pasted into a URL unencoded) of a small JSON object holding the last
row's sort key and nothing else. Queries stay scoped by the caller's key: a cursor only says where
to start, so one made up by hand can skip rows of the caller's own tenant, never reveal another's.

Until callers have moved to cursors, a raw E.164 number is still taken as a phone cursor
(`after=%2B15555550100`), also when its `+` arrived as a space because it was not URL-encoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query

_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_RAW_PHONE = re.compile(r"[+ ]\d{3,15}")  # transitional: a raw E.164 value, its + maybe a space
MAX_LENGTH = 512


class CursorError(ValueError):
    pass


def encode(key: dict[str, Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str) -> dict[str, Any]:
    """The key in a cursor made by `encode`; CursorError for anything else."""
    if len(cursor) > MAX_LENGTH or not _ALPHABET.fullmatch(cursor):
        raise CursorError("not a cursor: pass back the next_after of the previous page as it is")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise CursorError("not a cursor: pass back the next_after of the previous page as it is") \
            from exc
    if not isinstance(key, dict):
        raise CursorError("not a cursor: pass back the next_after of the previous page as it is")
    return key


def phone_cursor(phone: str) -> str:
    return encode({"phone": phone})


def phone_after(cursor: str) -> str:
    """The phone a page starts after (exclusive): from a cursor, or a raw E.164 value."""
    if _RAW_PHONE.fullmatch(cursor):
        return "+" + cursor[1:]
    phone = decode(cursor).get("phone")
    if not isinstance(phone, str) or not phone:
        raise CursorError("not a cursor of this list: pass back its own next_after")
    return phone


async def _after(after: str | None = Query(
        None, description="The `next_after` of the previous page (an opaque cursor).")) -> str | None:
    if not after:
        return None
    try:
        return phone_after(after)
    except CursorError as exc:
        raise HTTPException(422, [{"loc": ["query", "after"], "msg": str(exc),
                                   "type": "value_error"}]) from exc


PhoneAfter = Annotated[str | None, Depends(_after)]
"""A route's `after` query parameter, decoded to the phone its page starts after."""
