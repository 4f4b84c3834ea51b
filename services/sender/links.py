"""Tracked links: `{link:https://…}` placeholders become unique short links per subscriber and message.

Syntax (options after `|`, in any order):

    {link:https://shop.example/shoes}
    {link:https://shop.example/shoes|tag=shoe-offer}          a label carried on the click event
    {link:https://shop.example/flash|tag=flash|ttl=4h}        the link expires (m, h or d)

Each placeholder becomes `<base>/l/<code>`; the same URL and tag twice in one message share a
code. Codes are 12 URL-safe characters from `secrets` (72 random bits): unguessable, so one
subscriber's link never reveals or opens another's. Ingress serves `/l/{code}` from the `link`
rows the sender stores and publishes `link.clicked` with the subscriber, message, campaign, flow
step, variant and tag. Pure apart from the code generator, which callers may replace. The
placeholder grammar is shared with the services that check texts when they are saved
(`libs/common/placeholders.py`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from libs.common.placeholders import LINK as PLACEHOLDER
from libs.common.placeholders import BadPlaceholder, link_options
from libs.common.placeholders import validate_links as validate

__all__ = ["BadPlaceholder", "TrackedLink", "new_code", "rewrite", "validate"]
CODE_BYTES = 9  # 72 bits → 12 base64url characters


@dataclass(frozen=True)
class TrackedLink:
    code: str
    url: str
    tag: str | None
    ttl: timedelta | None


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def rewrite(body: str, base_url: str, code: Callable[[], str] = new_code) -> tuple[str, list[TrackedLink]]:
    """The body with each well-formed placeholder replaced by its short link, and those links.
    A malformed one is left as written (the API refuses such bodies; see `validate`)."""
    links: dict[tuple[str, str | None, timedelta | None], TrackedLink] = {}
    base = base_url.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        try:  # the expiry limit is the API's; a text saved before it is still rewritten
            tag, ttl = link_options(match["options"], limit=None)
        except BadPlaceholder:
            return match[0]
        key = (match["url"], tag, ttl)
        if key not in links:
            links[key] = TrackedLink(code(), match["url"], tag, ttl)
        return f"{base}/l/{links[key].code}"

    return PLACEHOLDER.sub(replace, body), list(links.values())
