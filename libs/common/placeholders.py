"""Placeholders in the texts a tenant writes, and what makes one valid.

    {name}                                          a variable (the router fills it in)
    {link:https://shop.example/shoes}               a tracked link (the sender makes it unique)
    {link:https://shop.example/flash|tag=flash|ttl=4h}   with a click tag and an expiry (m, h or d)
    {link:https://shop.example/quiz?p={priority}}   variables may sit inside a link's URL

A `{` always opens a placeholder: texts are checked when a definition is saved, so `{nosuchvar}`
(sent as written otherwise), an unclosed `{name` or a link with a bad option is a 422, not a
surprise on a subscriber's phone. Which variables a text may use depends on where it is sent:
flow texts see `BUILTINS` and the flow's own variables (`definitions.variables`); texts sent
as they are written (compliance texts, broadcast bodies) see none.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta

from libs.common import durations

VARIABLE = re.compile(r"\{(\w+)\}")
LINK = re.compile(r"\{link:(?P<url>https?://[^\s{}|]+)(?P<options>(?:\|[^\s{}|]*)*)\}")
LINK_OPENING = re.compile(r"\{link:")
TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
BUILTINS = frozenset({"brand"})  # the tenant's brand name, in every rendered text


class BadPlaceholder(ValueError):
    pass


def link_options(raw: str, limit: timedelta | None = durations.MAX) -> tuple[str | None, timedelta | None]:
    """(tag, ttl) of a link's `|tag=…|ttl=…` options; `limit=None` for links already sent."""
    tag = ttl = None
    for item in filter(None, raw.split("|")):
        key, _, value = item.partition("=")
        if key == "tag" and TAG.match(value):
            tag = value
        elif key == "ttl":
            try:
                ttl = durations.parse(value, limit, units="mhd")
            except ValueError as exc:
                raise BadPlaceholder(f"link option ttl={value}: {exc}") from exc
            if not ttl:
                raise BadPlaceholder(f"link option ttl={value}: a link cannot expire at once")
        else:
            raise BadPlaceholder(f"unknown link option {item!r} (use tag=name or ttl=4h)")
    return tag, ttl


def validate_links(body: str) -> None:
    """Every `{link:` in `body` is a well-formed tracked link (the other braces are not looked at)."""
    for match in LINK.finditer(body):
        link_options(match["options"])
    if len(LINK_OPENING.findall(body)) != len(LINK.findall(body)):
        raise BadPlaceholder("a {link:…} placeholder needs an http(s) URL without spaces and a closing }")


def check(text: str, variables: Collection[str] = ()) -> None:
    """Raise BadPlaceholder naming the first placeholder of `text` that is not valid where it is
    sent: an unknown variable, a malformed link, a `{` that opens nothing or is never closed."""
    i = 0
    while (start := text.find("{", i)) != -1:
        if m := VARIABLE.match(text, start):
            _known(m[1], variables)
            i = m.end()
        elif text.startswith("{link:", start):
            i = _link_end(text, start, variables)
        else:
            raise BadPlaceholder(_not_a_placeholder(text, start))


def _link_end(text: str, start: int, variables: Collection[str]) -> int:
    """Where the link placeholder at `start` ends; its variables are checked, then stand in as
    plain text while the link itself is checked."""
    i, filled = start + 1, ["{"]
    while i < len(text):
        if text[i] == "}":
            link = LINK.fullmatch("".join(filled) + "}")
            if link is None:
                raise BadPlaceholder(f"{_snippet(text, start, i + 1)} is not a tracked link: it needs "
                                     "an http(s) URL without spaces")
            link_options(link["options"])
            return i + 1
        if text[i] == "{":
            if (m := VARIABLE.match(text, i)) is None:
                break
            _known(m[1], variables)
            filled.append("x")
            i = m.end()
            continue
        filled.append(text[i])
        i += 1
    raise BadPlaceholder(f"unclosed {{link: in {_snippet(text, start, i)}: a placeholder ends with }}")


def _known(name: str, variables: Collection[str]) -> None:
    if name in variables:
        return
    if not variables:
        raise BadPlaceholder(f"{{{name}}} names no variable: this text is sent as written, so it may "
                             "hold tracked links ({link:https://…}) but no variables")
    names = ", ".join(f"{{{v}}}" for v in sorted(variables)[:20])
    raise BadPlaceholder(f"{{{name}}} names no variable; this text may use {names}")


def _not_a_placeholder(text: str, start: int) -> str:
    close, reopen = text.find("}", start + 1), text.find("{", start + 1)
    if close == -1 or -1 < reopen < close:
        return (f"unclosed {{ in {_snippet(text, start, len(text) if close == -1 else close)}: "
                "a { always opens a placeholder ({name} or {link:https://…})")
    return (f"{_snippet(text, start, close + 1)} is not a placeholder: use {{name}} with a "
            "variable's name (letters, digits, _) or {link:https://…}")


def _snippet(text: str, start: int, end: int) -> str:
    part = text[start:end]
    return repr(part if len(part) <= 40 else part[:37] + "…")


def as_read(text: str) -> str:
    """A text as its reader sees the links in it: each `{link:URL|…}` as its URL (the sender puts
    a tracked short link there, which leads to that URL)."""
    return LINK.sub(lambda m: m["url"], text)
