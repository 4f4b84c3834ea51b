"""Tracked links: `{link:https://…}` placeholders become unique short links per subscriber and message.

Syntax (options after `|`, in any order):

    {link:https://shop.example/shoes}
    {link:https://shop.example/shoes|tag=shoe-offer}          a label carried on the click event
    {link:https://shop.example/flash|tag=flash|ttl=4h}        the link expires (m, h or d)

Each placeholder becomes `<base>/l/<code>`; the same URL and tag twice in one message share a
code. Codes are 12 URL-safe characters from `secrets` (72 random bits): unguessable, so one
subscriber's link never reveals or opens another's. Ingress serves `/l/{code}` from the `link`
rows the sender stores and publishes `link.clicked` with the subscriber, message, campaign, flow
step, variant and tag. Pure apart from the code generator, which callers may replace.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

PLACEHOLDER = re.compile(r"\{link:(?P<url>https?://[^\s{}|]+)(?P<options>(?:\|[^\s{}|]*)*)\}")
OPENING = re.compile(r"\{link:")
TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TTL = re.compile(r"^(?P<n>\d{1,4})(?P<unit>[mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
CODE_BYTES = 9  # 72 bits → 12 base64url characters


class BadPlaceholder(ValueError):
    pass


@dataclass(frozen=True)
class TrackedLink:
    code: str
    url: str
    tag: str | None
    ttl: timedelta | None


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def _options(raw: str) -> tuple[str | None, timedelta | None]:
    tag = ttl = None
    for item in filter(None, raw.split("|")):
        key, _, value = item.partition("=")
        if key == "tag" and TAG.match(value):
            tag = value
        elif key == "ttl" and (m := TTL.match(value)) and int(m["n"]) > 0:
            ttl = timedelta(**{UNITS[m["unit"]]: int(m["n"])})
        else:
            raise BadPlaceholder(f"unknown link option {item!r} (use tag=name or ttl=4h)")
    return tag, ttl


def validate(body: str) -> None:
    """Raise BadPlaceholder for a `{link:` that is not a well-formed placeholder."""
    for match in PLACEHOLDER.finditer(body):
        _options(match["options"])
    if len(OPENING.findall(body)) != len(PLACEHOLDER.findall(body)):
        raise BadPlaceholder("a {link:…} placeholder needs an http(s) URL without spaces and a closing }")


def rewrite(body: str, base_url: str, code: Callable[[], str] = new_code) -> tuple[str, list[TrackedLink]]:
    """The body with each well-formed placeholder replaced by its short link, and those links.
    A malformed one is left as written (the API refuses such bodies; see `validate`)."""
    links: dict[tuple[str, str | None, timedelta | None], TrackedLink] = {}
    base = base_url.rstrip("/")

    def replace(match: re.Match[str]) -> str:
        try:
            tag, ttl = _options(match["options"])
        except BadPlaceholder:
            return match[0]
        key = (match["url"], tag, ttl)
        if key not in links:
            links[key] = TrackedLink(code(), match["url"], tag, ttl)
        return f"{base}/l/{links[key].code}"

    return PLACEHOLDER.sub(replace, body), list(links.values())
