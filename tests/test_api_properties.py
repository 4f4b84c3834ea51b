"""Generated input at every `/v1` write route of the embedded app, on both profiles: whatever a
caller sends, the answer is below 500, and a refusal (4xx) is JSON with a `detail`.

The routes come from the app's own OpenAPI, so a write route added later without a strategy here
fails `test_every_write_route_has_a_strategy`, and each route's example must itself be accepted.
Two property tests start from those examples:

- one request per route per example: the example as it is, with one value made hostile, mutated
  all over (values dropped, swapped for NUL bytes, lone surrogates, over-long text, integers past
  64 bits, dates at the calendar's ends, placeholders and durations that do not exist), or random
  JSON, YAML or bytes, under the right or a wrong content type; bulk imports run to their end and
  their job must finish, never crash;
- a sweep: every field of every example in turn takes a hostile value of its kind (a time, a
  phone, a duration, text, a number), so no field is left to chance.

The examples get past the first checks, so validation is exercised deep in the body and what
passes it reaches the database (PostgreSQL refuses what SQLite keeps).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from urllib.parse import quote, urlencode

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from libs.common.config import Settings
from libs.common.db.models.router import Conversation
from libs.common.service import build_app
from libs.common.testing.app import running
from libs.common.testing.consent import subscribe
from libs.common.testing.phone import START, Clock
from libs.common.testing.profiles import profile_settings
from services.embedded import all_services
from services.router.demo import load_playbooks
from services.router.flows import library

ADMIN = {"Authorization": "Bearer test-admin-token"}
WRITE_METHODS = ("post", "put", "patch", "delete")
# No traffic leaves the machine: carriers are a closed local port, and no background loop runs
# (webhook forwarding, deferred sends); consumers still do, so definitions are exercised.
CLOSED = "http://127.0.0.1:9"
CARRIERS = {f"{c}_base_url": CLOSED for c in ("twilio", "telnyx", "vonage", "plivo", "bandwidth")}

# --- values ----------------------------------------------------------------------------------------

LONG_TEXT = st.sampled_from([65, 129, 201, 301, 2001]).map(lambda n: "x" * n)  # past String(n)
NUL_TEXT = st.sampled_from(["\x00", "a\x00b"]) | st.text(max_size=10).map(lambda t: t + "\x00")
ODD_TEXT = st.sampled_from([
    "", " ", "😀😀", "\t\n", "\u202e\u0301", "\ud800", "{", "}", "{nosuchvar}", "{brand", "{brand}",
    "{link:https://a.example|ttl=999d}", "{link:ftp://x}", "99999999d", "9" * 30 + "d", "0s", "1e400",
    "NaN", "-1", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-23:59", "2999-01-01T00:00:00Z",
    "+15555550100", "+1555", "0", "../../etc", "'; DROP TABLE tenant; --", "%00", "America/New_York",
    "Not/AZone", "Europe/" + "x" * 300])
HOSTILE_TEXT = st.one_of(LONG_TEXT, NUL_TEXT, ODD_TEXT, st.text(max_size=30))
HOSTILE_INT = st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1,
                               10**30]) | st.integers(-10**20, 10**20)
# JSON as Python writes and reads it also carries NaN, Infinity and integers past any float.
HOSTILE_NUMBER = HOSTILE_INT | st.sampled_from([1e308, -1e308, 0.1, 1e-300, -0.0, 10**400, 10**600,
                                                float("inf"), float("-inf"), float("nan")]) | st.floats(
    allow_nan=False, allow_infinity=False)
SCALARS = st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT)
# Values like the one they replace, at its edges: what a check of that kind has to get right.
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=-23, minutes=-59)), timezone(timedelta(hours=14))])
EDGE_TIMES = st.sampled_from(["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                              "9999-12-31T23:59:59-05:00", "2999-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
                              "2026-11-20T15:00:00"]) | st.datetimes(timezones=OFFSETS).map(
    lambda d: d.isoformat())
EDGE_PHONES = st.sampled_from(["+1", "+1555555010", "+15555550100", "5555550100", "+1 (555) 555-0100",
                               "12345", "+447700900123", "+" + "9" * 30, "+15555550199"])
EDGE_DURATIONS = st.sampled_from(["0s", "1s", "365d", "366d", "53w", "99999999d", "9" * 30 + "d", "1y",
                                  "24 h", "-1h"])
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT")
PHONE = re.compile(r"^\+\d{6,}$")
DURATION = re.compile(r"^\d+[smhdw]$")


def hostile_like(value) -> st.SearchStrategy:
    """A hostile value of the same kind as `value` (a time, a phone, a duration…)."""
    if isinstance(value, bool) or value is None:
        return SCALARS
    if isinstance(value, int | float):
        return HOSTILE_NUMBER
    for kind, edges in ((ISO_TIME, EDGE_TIMES), (PHONE, EDGE_PHONES), (DURATION, EDGE_DURATIONS)):
        if isinstance(value, str) and kind.match(value):
            return edges | edges | HOSTILE_TEXT
    return HOSTILE_TEXT


def _nested(inner: st.SearchStrategy) -> st.SearchStrategy:
    keys = st.text(max_size=10) | HOSTILE_TEXT
    return st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5)


JSON_VALUES = st.recursive(SCALARS, _nested, max_leaves=12)


@st.composite
def mutated(draw, value):
    """`value` with some of its parts dropped or replaced; types mostly kept, so what changed is
    a value that gets past parsing and has to be refused (or stored) by what comes after."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return draw(JSON_VALUES)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if draw(st.integers(0, 11)) != 0:
                out[key] = draw(mutated(item))
        if draw(st.integers(0, 9)) == 0:
            out[draw(HOSTILE_TEXT)] = draw(JSON_VALUES)
        return out
    if isinstance(value, list):
        items = [draw(mutated(item)) for item in value]
        if items and draw(st.integers(0, 7)) == 0:
            items = items * draw(st.integers(2, 40))  # long lists
        return items
    if roll > 4:
        return value
    if isinstance(value, str) and roll == 4:
        return value + draw(HOSTILE_TEXT)
    return draw(hostile_like(value))


def dump_json(value) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # ASCII escapes carry lone surrogates


def dump_yaml(value) -> bytes:
    return yaml.safe_dump(value, allow_unicode=False).encode()


CONTENT_TYPES = st.sampled_from([None, "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                                 "application/xml", "text/csv"])
RANDOM_BODIES = st.one_of(
    st.tuples(st.binary(max_size=200), CONTENT_TYPES),
    st.tuples(JSON_VALUES.map(dump_json), st.just("application/json")),
    st.tuples(JSON_VALUES.map(dump_yaml), st.just("application/yaml")),
    st.tuples(st.sampled_from([b"{", b"[1,", b"\xff\xfe", b"a: [", b"!!python/object:os.system {}",
                               b"a: &x [*x]", b"null", b"[]", b"1e999999"]),
              st.sampled_from(["application/json", "application/yaml"])),
)


def _leaves(value, path=()):
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    else:
        yield path, value


def _replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def one_leaf(example) -> st.SearchStrategy:
    """`example` with one value swapped for a hostile one of the same type: the body is valid but
    for that value, so the check that must refuse it (or the database that stores it) is reached."""
    leaves = list(_leaves(example))

    def swap(leaf):
        path, value = leaf
        return hostile_like(value).map(lambda v: _replaced(example, path, v))

    return st.sampled_from(leaves).flatmap(swap)


def bodies(*examples, yaml_too: bool = False) -> st.SearchStrategy:
    """(content, content type): an example as it is, with one value made hostile, mutated all
    over, sent as JSON (or YAML); or random bytes."""
    options = st.sampled_from(examples)
    shaped = options | options.flatmap(one_leaf) | options.flatmap(one_leaf) | options.flatmap(mutated)
    encoded = st.tuples(shaped.map(dump_json), st.just("application/json"))
    if yaml_too:
        encoded = encoded | st.tuples(shaped.map(dump_yaml), st.just("application/yaml"))
    return Values(examples, st.one_of(encoded, encoded, encoded, encoded, RANDOM_BODIES))


@dataclass(frozen=True)
class Values:
    """What a request part can be: `known` good values (the first is sent by the examples test)
    and the strategy the property test draws from."""

    known: tuple
    strategy: st.SearchStrategy


NO_BODY = Values((None,), st.just((None, None)) | RANDOM_BODIES)


def ids(*known: str) -> Values:
    return Values(known, st.sampled_from(known) | HOSTILE_TEXT
                  | st.from_regex(r"[a-z0-9][a-z0-9_-]{0,70}", fullmatch=True))


# --- CSV uploads -----------------------------------------------------------------------------------

PHONE_LIST = ("+15555550100", "+15555550104", "5555550105", "+15555550199", "12345", "+447700900123", "")
PHONES = st.sampled_from(PHONE_LIST) | HOSTILE_TEXT
SUBSCRIBERS = Values(PHONE_LIST, PHONES)
TIMES = st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-20T14:59:00+00:00", "2999-01-01T00:00:00Z",
                         "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+05:00", "2026-02-30",
                         "yesterday", ""]) | st.datetimes().map(lambda d: d.isoformat()) | HOSTILE_TEXT
ROWS = st.lists(st.fixed_dictionaries({
    "phone": PHONES, "opted_in_at": TIMES, "program": st.sampled_from(["", "default", "nope"]),
    "labels": st.sampled_from(["interest:shoes;vip", "", "Bad Label;x" * 20]) | HOSTILE_TEXT,
    "attr_city": HOSTILE_TEXT, "consent_text": HOSTILE_TEXT, "source": HOSTILE_TEXT}), max_size=6)
HEADERS = st.sampled_from([["phone", "opted_in_at", "program", "labels", "attr_city", "consent_text",
                            "source"], ["phone", "opted_in_at"], ["phone"], ["Phone ", "OPTED_IN_AT"]])


@st.composite
def csv_files(draw):
    header, rows = draw(HEADERS), draw(ROWS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h.strip().lower(), "") for h in header])
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "utf-16"]))
    errors = "surrogatepass" if encoding == "utf-8" else "replace"  # lone surrogates: not UTF-8
    return text.encode(encoding, errors), draw(st.sampled_from([None, "text/csv"]))


UPLOADS = Values((b"phone,opted_in_at,labels\n+15555550104,2026-01-01T00:00:00Z,vip\n",),
                 st.one_of(csv_files(), csv_files(), RANDOM_BODIES))

# --- routes ----------------------------------------------------------------------------------------

FLOWS = [f.model_dump(mode="json") for f in library.flows()]
RULES = [r.model_dump(mode="json") for r in library.campaigns()] + [
    {"id": "everything", "keywords": ["ALL", "EVERY"], "synonyms": ["each"], "threshold": 80,
     "join": "default", "actions": [
         {"type": "set", "attribute": "tier", "value": "gold"},
         {"type": "reply", "text": "Hi {tier} from {brand} {link:https://a.example|tag=x|ttl=4h}"},
         {"type": "label", "label": "vip"}, {"type": "score", "event": "big_spender"},
         {"type": "webhook", "url": "https://hooks.example/parley", "secret": "s"},
         {"type": "handoff", "reason": "asked"}, {"type": "end"}]}]
# One flow that uses every field a flow has: the field sweep changes each of them in turn.
ASK = {
    "prompt": "Hi from {brand}! Size? {link:https://a.example/?s={size}|tag=t|ttl=4h}",
    "actions": [{"type": "set", "attribute": "tier", "value": "gold"}, {"type": "label", "label": "seen"}],
    "options": [
        {"keywords": ["S", "SMALL"], "synonyms": ["tiny"], "threshold": 80, "set": {"size": "s"},
         "actions": [{"type": "score", "event": "sized"}, {"type": "reply", "text": "{tier}!"}],
         "next": "rate"},
        {"range": [1, 5], "next": "rate"}, {"any": True, "next": "end"}],
    "fallback": "Reply S, {tier} member", "max_fallbacks": 3,
    "on_timeout": {"after": "24h", "actions": [{"type": "reply", "text": "Still there?"}], "next": "rate"},
    "on_click": {"after": "30m", "actions": [{"type": "unlabel", "label": "seen"}]},
    "on_no_click": {"after": "2d", "actions": [{"type": "handoff", "reason": "no click"}]}}
RATE = {"prompt": "Rate us 1-5", "options": [{"range": [1, 5], "actions": [
    {"type": "start_flow", "flow": "welcome"}, {"type": "end"}]}]}
RICH_FLOW = {"id": "rich", "name": "Rich", "start": "ask", "kind": "reply", "completion_event": "done",
             "steps": {"ask": ASK, "rate": RATE}}
RULE = {"all": [{"label": "interest:shoes"}, {"clicked": {"within_days": 14, "tag": "x"}},
                {"score": {"gt": 70, "lte": 100}},
                {"any": [{"attribute": {"name": "city", "eq": "Paris"}}, {"not": {"consent": "opted_out"}},
                         {"replied": {"within_days": 3, "keyword": "YES", "flow_id": "welcome"}}]}]}
EXPERIMENT = {"id": "e1", "name": "E", "flow_id": "quiz", "step": "priority", "goal": "reply",
              "allocation": "fixed", "auto_promote": True, "threshold": 0.95, "min_sends": 30,
              "variants": [{"key": "a", "prompt": "A {brand}?", "weight": 1},
                           {"key": "b", "prompt": "B {link:https://a.example}", "weight": 2}]}


NONE = st.just({})


def without_id(definitions: list[dict]) -> list[dict]:
    """Bodies for PUT: the id comes from the URL."""
    return [{k: v for k, v in d.items() if k != "id"} for d in definitions]


@dataclass(frozen=True)
class Route:
    """How to call one route; `sweep` is the body whose every field the sweep varies (default:
    the first known body)."""

    body: Values = NO_BODY
    params: dict[str, Values] = field(default_factory=dict)
    query: st.SearchStrategy = NONE
    admin: bool = False
    headers: st.SearchStrategy = NONE
    sweep: dict | None = None


TENANTS = ids("acme", "other")
CAMPAIGN_IDS = ids("shop", "shoes", "deal", "everything")
FLOW_IDS = ids("welcome", "quiz", "feedback", "reengagement")
CONVERSATIONS = ids("CONVERSATION")  # replaced by the real id at run time
NUMBERS = Values(("+15555550001", "15555550002"),
                 st.sampled_from(["+15555550001", "15555550002"]) | HOSTILE_TEXT)
KEYS = st.fixed_dictionaries({}, optional={"Idempotency-Key": st.text(
    st.characters(min_codepoint=32, max_codepoint=126), max_size=300)})

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/tenants"): Route(bodies({"id": "t-new", "name": "New", "brand": "B", "help_text": "H"}),
                                   admin=True),
    ("PATCH", "/v1/tenants/{tenant_id}"): Route(bodies(
        {"name": "Acme", "brand": "Acme Shoes", "help_text": "Help", "opt_out_text": "Bye",
         "opt_in_text": "Welcome back {link:https://a.example}", "fallback_to_agent": True}),
        {"tenant_id": TENANTS}),
    ("POST", "/v1/tenants/{tenant_id}/api-keys"): Route(params={"tenant_id": TENANTS}),
    ("PUT", "/v1/tenants/{tenant_id}/credentials/{carrier}"): Route(
        bodies({"values": {"auth_token": "t", "account_sid": "AC1"}}),
        {"tenant_id": TENANTS,
         "carrier": ids("twilio", "telnyx", "vonage", "plivo", "bandwidth", "generic")}),
    ("POST", "/v1/campaigns"): Route(bodies(*RULES, yaml_too=True), sweep=RULES[-1]),
    ("PUT", "/v1/campaigns/{item_id}"): Route(bodies(*without_id(RULES), yaml_too=True),
                                              {"item_id": CAMPAIGN_IDS}, sweep=without_id(RULES)[-1]),
    ("POST", "/v1/campaigns/{item_id}/activate"): Route(params={"item_id": CAMPAIGN_IDS}),
    ("POST", "/v1/campaigns/{item_id}/deactivate"): Route(params={"item_id": CAMPAIGN_IDS}),
    ("DELETE", "/v1/campaigns/{item_id}"): Route(params={"item_id": CAMPAIGN_IDS}),
    ("POST", "/v1/flows"): Route(bodies(*FLOWS, RICH_FLOW, yaml_too=True), sweep=RICH_FLOW),
    ("PUT", "/v1/flows/{item_id}"): Route(bodies(*without_id([*FLOWS, RICH_FLOW]), yaml_too=True),
                                          {"item_id": FLOW_IDS}, sweep=without_id([RICH_FLOW])[0]),
    ("POST", "/v1/flows/{item_id}/activate"): Route(params={"item_id": FLOW_IDS}),
    ("POST", "/v1/flows/{item_id}/deactivate"): Route(params={"item_id": FLOW_IDS}),
    ("DELETE", "/v1/flows/{item_id}"): Route(params={"item_id": FLOW_IDS}),
    ("POST", "/v1/conversations/{conversation_id}/reply"): Route(
        bodies({"body": "Hello {link:https://a.example}", "agent": "ana@brand.example"}),
        {"conversation_id": CONVERSATIONS}, headers=KEYS),
    ("POST", "/v1/conversations/{conversation_id}/claim"): Route(
        bodies({"agent": "ana@brand.example", "take_over": True}), {"conversation_id": CONVERSATIONS}),
    ("POST", "/v1/conversations/{conversation_id}/release"): Route(params={"conversation_id": CONVERSATIONS}),
    ("POST", "/v1/conversations/{conversation_id}/resolve"): Route(params={"conversation_id": CONVERSATIONS}),
    ("POST", "/v1/conversations/start"): Route(bodies({"phone": "+15555550104", "flow_id": "feedback"}),
                                               headers=KEYS),
    ("PUT", "/v1/programs/{program_id}"): Route(bodies(
        {"name": "Alerts", "numbers": ["+15555550001", "12345"], "join_keywords": ["ALERTS"],
         "help_text": "Help", "confirm_request_text": "Reply Y", "opt_in_text": "In", "opt_out_text": "Out",
         "welcome_flow": "welcome", "opt_in_expiry_hours": 24}), {"program_id": ids("default", "alerts")}),
    ("POST", "/v1/opt-ins"): Route(bodies(
        {"phone": "+15555550106", "program": "default", "disclosure": "By signing up you agree",
         "source_url": "https://shop.example/signup", "ip": "203.0.113.9", "user_agent": "Mozilla/5.0",
         "at": "2026-11-20T15:00:00Z", "channel": "web"})),
    ("POST", "/v1/dnc"): Route(bodies({"phone": "+15555550107", "reason": "asked"})),
    ("POST", "/v1/dnc/import"): Route(UPLOADS),
    ("DELETE", "/v1/dnc/{phone}"): Route(params={"phone": Values(("+15555550199",), PHONES)}),
    ("POST", "/v1/imports"): Route(UPLOADS, query=st.fixed_dictionaries({}, optional={
        "program": ids("default", "nope").strategy, "file_name": HOSTILE_TEXT})),
    ("POST", "/v1/numbers"): Route(bodies(
        {"number": "+15555550001", "carrier": "simulator", "number_type": "long_code", "is_default": False,
         "rate_per_s": 1.5})),
    ("DELETE", "/v1/numbers/{number}"): Route(params={"number": NUMBERS}),
    ("PUT", "/v1/messages/settings"): Route(bodies(
        {"quiet_hours": True, "quiet_hours_start": "09:00", "quiet_hours_end": "20:00",
         "fallback_timezone": "America/New_York", "max_marketing_per_day": 2, "max_marketing_per_week": 6,
         "replace_lookalikes": True})),
    ("POST", "/v1/messages/preview"): Route(bodies({"body": "Hi \U0001F600 {link:https://a.example|ttl=1h}"})),
    ("POST", "/v1/messages"): Route(bodies(
        {"to": "+15555550100", "body": "Hi {link:https://a.example|ttl=1h}", "kind": "transactional",
         "from": "+15555550000", "campaign_id": "c1"}), headers=KEYS),
    ("PUT", "/v1/subscribers/scoring"): Route(bodies(
        {"weights": {"replied": 10, "decay": -5, "clicked": 3, "happy_customer": 7}})),
    ("POST", "/v1/subscribers/{phone}/labels"): Route(bodies({"label": "interest:boots"}),
                                                      {"phone": SUBSCRIBERS}),
    ("DELETE", "/v1/subscribers/{phone}/labels/{label}"): Route(
        params={"phone": SUBSCRIBERS, "label": ids("interest:shoes", "vip")}),
    ("PATCH", "/v1/subscribers/{phone}/attributes"): Route(bodies(
        {"attributes": {"city": "Paris", "size": 42, "ratio": 0.5, "vip": True, "gone": None}}),
        {"phone": SUBSCRIBERS}),
    ("POST", "/v1/segments"): Route(bodies({"id": "s1", "name": "Shoes", "rule": RULE})),
    ("POST", "/v1/segments/count"): Route(bodies({"rule": RULE})),
    ("PATCH", "/v1/segments/{segment_id}"): Route(bodies({"name": "Shoe fans", "rule": RULE}),
                                                  {"segment_id": ids("everyone")}),
    ("DELETE", "/v1/segments/{segment_id}"): Route(params={"segment_id": ids("s1", "everyone")}),
    ("POST", "/v1/broadcasts"): Route(bodies(
        {"id": "b1", "segment_id": "everyone", "body": "Hi {link:https://a.example}", "rate_per_minute": 60,
         "reply_window_hours": 72},
        {"segment_id": "everyone", "flow_id": "reengagement", "variant": "v", "rate_per_minute": 6000})),
    ("POST", "/v1/broadcasts/{broadcast_id}/pause"): Route(params={"broadcast_id": ids("blast")}),
    ("POST", "/v1/broadcasts/{broadcast_id}/resume"): Route(params={"broadcast_id": ids("blast")}),
    ("POST", "/v1/broadcasts/{broadcast_id}/cancel"): Route(params={"broadcast_id": ids("blast")}),
    ("POST", "/v1/broadcasts/{broadcast_id}/suppress-non-responders"): Route(
        bodies({"label": "no-reply:blast"}), {"broadcast_id": ids("blast")}),
    ("POST", "/v1/conversions"): Route(bodies(
        {"phone": "+15555550100", "order_id": "o1", "value": "12.50", "currency": "USD",
         "occurred_at": "2026-11-20T15:00:00Z", "attribution_window_hours": 168})),
    ("POST", "/v1/experiments"): Route(bodies(EXPERIMENT, {**EXPERIMENT, "id": "e2", "flow_id": None,
                                                           "step": None, "campaign_id": "blast"})),
    ("POST", "/v1/experiments/{experiment_id}/promote"): Route(bodies({"variant": "a"}),
                                                               {"experiment_id": ids("exp")}),
    ("POST", "/v1/experiments/{experiment_id}/stop"): Route(params={"experiment_id": ids("exp")}),
}

AUTH = st.sampled_from(["tenant"] * 12 + ["admin", "none", "wrong"])


def write_routes() -> set[tuple[str, str]]:
    app = build_app(all_services(), Settings(data_dir="/nonexistent"))  # the route table; nothing runs
    with warnings.catch_warnings():  # ingress's GET/POST twins share operation ids: not ours to judge
        warnings.simplefilter("ignore", UserWarning)
        paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items()
            if path.startswith("/v1") for method in ops if method in WRITE_METHODS}


def test_every_write_route_has_a_strategy():
    routes = write_routes()
    assert routes - ROUTES.keys() == set(), "write routes without a strategy in ROUTES"
    assert ROUTES.keys() - routes == set(), "strategies for routes the app no longer has"


def _example(route: Route) -> tuple[bytes | None, str | None]:
    body = route.body.known[0]
    if body is None or isinstance(body, bytes):
        return body, "text/csv" if body else None
    return dump_json(body), "application/json"


async def test_every_routes_example_is_accepted(world):
    """The examples the property test mutates are valid, so its mutations start from a body
    that gets all the way in."""
    ctx, client, key = world
    refused = []
    for (method, path), route in ROUTES.items():
        url = _known_url(path, route, ctx.state["test.conversation"])
        content, content_type = _example(route)
        headers = {**(ADMIN if route.admin else key),
                   **({"content-type": content_type} if content_type else {})}
        resp = await client.request(method, url, content=content, headers=headers)
        if not resp.is_success:
            refused.append(f"{method} {url}: {resp.status_code} {resp.text[:300]}")
    assert not refused, "\n".join(refused)


# --- the run ---------------------------------------------------------------------------------------

@pytest.fixture
async def world(profile, tmp_path):
    """The suite without background loops, a tenant with the playbooks, and one of everything a
    path can name: a conversation with an agent, a segment, a broadcast, an experiment."""
    async with profile_settings(profile, tmp_path, **CARRIERS) as s:
        services = [dataclasses.replace(svc, loops=()) for svc in all_services()]
        async with running(services, s) as (app, client):
            ctx = app.state.ctx
            ctx.clock = Clock(START)
            key = await _setup(ctx, client)
            yield ctx, client, key


async def _setup(ctx, client) -> dict[str, str]:
    resp = await client.post("/v1/tenants", headers=ADMIN,
                             json={"id": "acme", "name": "Acme", "brand": "Acme"})
    key = {"Authorization": f"Bearer {resp.json()['api_key']}"}
    await client.post("/v1/tenants", headers=ADMIN, json={"id": "other", "name": "Other"})
    await client.post("/v1/numbers", headers=key, json={"number": "+15555550000", "carrier": "simulator",
                                                        "is_default": True})
    async with ctx.sessions() as session, session.begin():
        await load_playbooks(session, "acme", ctx.clock())
    await subscribe(ctx, "acme", "+15555550100")
    await client.post("/v1/subscribers/+15555550100/labels", headers=key, json={"label": "interest:shoes"})
    await client.post("/v1/segments", headers=key, json={"id": "everyone", "name": "Shoe fans",
                                                         "rule": {"label": "interest:shoes"}})
    await client.post("/v1/broadcasts", headers=key, json={"id": "blast", "segment_id": "everyone",
                                                           "body": "Hi", "rate_per_minute": 1})
    await client.post("/v1/experiments", headers=key, json={**EXPERIMENT, "id": "exp", "flow_id": "welcome",
                                                            "step": "ask"})
    await client.post("/v1/dnc", headers=key, json={"phone": "+15555550199"})
    resp = await client.post("/v1/conversations/start", headers=key,
                             json={"phone": "+15555550100", "flow_id": "feedback"})
    assert resp.status_code in (200, 202), resp.text
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(Conversation).values(status="agent", handoff_reason="test"))
    conv = (await client.get("/v1/conversations", headers=key)).json()[0]["id"]
    ctx.state["test.conversation"] = conv
    return key


@st.composite
def requests(draw, method: str, path: str, route: Route, key: dict, conversation: str):
    url = path
    for name, values in route.params.items():
        value = draw(values.strategy)
        value = conversation if value == "CONVERSATION" else value
        url = url.replace(f"{{{name}}}", quote(value.encode("utf-8", "surrogatepass"), safe=""))
    content, content_type = draw(route.body.strategy)
    auth = draw(AUTH)
    headers = {"tenant": key, "admin": ADMIN, "none": {}, "wrong": {"Authorization": "Bearer nope"}}[auth]
    if route.admin and auth == "tenant":
        headers = ADMIN
    headers = {**headers, **draw(route.headers)}
    if content_type:
        headers["content-type"] = content_type
    query = draw(route.query)
    if query:  # encoded here: a lone surrogate goes out as the bytes it would be, not an error
        url += "?" + urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})
    return method, url, content, headers


def _known_url(path: str, route: Route, conversation: str) -> str:
    for name, values in route.params.items():
        value = conversation if values.known[0] == "CONVERSATION" else values.known[0]
        path = path.replace(f"{{{name}}}", quote(value, safe=""))
    return path


# Each example changes every field of every route's example once: some 300 requests.
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_every_field_of_every_example_takes_hostile_values_without_a_5xx(world, data):
    ctx, client, key = world
    failures = []
    for (method, path), route in ROUTES.items():
        example = route.sweep or route.body.known[0]
        if not isinstance(example, dict):
            continue
        url = _known_url(path, route, ctx.state["test.conversation"])
        headers = {**(ADMIN if route.admin else key), "content-type": "application/json"}
        for leaf, value in _leaves(example):
            body = _replaced(example, leaf, data.draw(hostile_like(value), label=f"{method} {path} {leaf}"))
            if (problem := await _answer_problem(client, method, url, dump_json(body), headers)) is not None:
                failures.append(f"{method} {url} {leaf}: {problem}")
    assert not failures, "\n".join(failures)


async def _finish_imports(ctx) -> list[str]:
    """Run the import jobs the uploads started to their end; a job that raised is a failure."""
    tasks = ctx.state.get("router.import_tasks", {})
    done = await asyncio.gather(*tasks.values(), return_exceptions=True)
    crashed = [f"import job {job}: {result!r}" for job, result in zip(tasks, done, strict=True)
               if isinstance(result, BaseException)]
    tasks.clear()
    return crashed


async def _answer_problem(client, method: str, url: str, content: bytes | None, headers: dict) -> str | None:
    """What is wrong with the answer to a request: a 5xx, a 4xx without a JSON detail, or an
    exception the app let out (the ASGI transport raises what the app did not answer)."""
    try:
        resp = await client.request(method, url, content=content, headers=headers)
    except Exception as exc:
        return f"raised {exc!r}"
    if resp.status_code >= 500:
        return f"{resp.status_code}: {resp.text[:300]}"
    if 400 <= resp.status_code < 500:
        try:
            detail = resp.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if not detail:
            return f"{resp.status_code} without a JSON detail: {resp.text[:200]}"
    return None


# Each example sends a request to every route: 8 of them is some 350 requests per profile.
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_generated_input_at_every_write_route_never_gets_a_5xx(world, data):
    ctx, client, key = world
    conversation = ctx.state["test.conversation"]
    failures = []
    for (method, path), route in ROUTES.items():
        method, url, content, headers = data.draw(
            requests(method, path, route, key, conversation), label=f"{method} {path}")
        if (problem := await _answer_problem(client, method, url, content, headers)) is not None:
            failures.append(f"{method} {url}: {problem}")
    failures += await _finish_imports(ctx)
    assert not failures, "\n".join(failures)
