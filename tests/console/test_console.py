"""The operator console in a real browser (Debian's Chromium under Playwright) against
`parley run`: sign-in, the live inbox, claiming and replying, the conflict a second agent gets,
the subscriber panel, the dashboard against the metrics API, a flow's validation errors at their
lines, promoting an experiment's variant, and basic accessibility. Embedded profile: the
console is a client of the public API, whatever runs behind it.

Waiting is Playwright's auto-waiting `expect(...)` (generous timeouts, no sleeps)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.console.harness import LAPTOP, PHONE, sign_in, wait_for

ANA, BO = "ana@acme.test", "bo@acme.test"
CARDS = ("reply_rate", "keyword_match_rate", "completion_rate", "reply_to_click_rate",
         "reply_to_conversion_rate", "median_time_to_reply_s", "delivered", "opt_out_rate")


@pytest.fixture(autouse=True)
def only_parley(context, parley):
    """Every request any page makes goes to Parley itself, and no URL carries the key."""
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    yield
    assert urls, "the browser made no request"
    assert [u for u in urls if not u.startswith(parley.base + "/")] == []
    assert [u for u in urls if parley.key in u] == []


def handed_off(parley, phone: str, *texts: str) -> dict:
    """A subscriber who went through the welcome flow's first step, then wrote something no
    rule matches: handed to an agent (the tenant sends unmatched texts to the desk)."""
    assert parley.api("PATCH", "/v1/tenants/demo", json={"fallback_to_agent": True}).status_code == 200
    parley.text(phone, "SHOP")
    parley.received(phone, 1)
    parley.text(phone, "1")  # labels interest:category_a
    parley.received(phone, 2)
    for text in texts:
        parley.text(phone, text)
    return parley.queued(phone)


def test_sign_in_refuses_a_wrong_key_and_keeps_the_right_one_in_the_tab(page, parley):
    page.goto(f"{parley.base}/console/")
    page.get_by_label("Your name").fill(ANA)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("refused")
    page.get_by_label("API key").fill(parley.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('parley.key')") == parley.key
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    assert parley.key not in page.url and parley.key not in page.content()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('parley.key')") is None


def test_a_hand_off_shows_up_live_an_agent_claims_and_replies_and_another_gets_the_conflict(
        page, chromium, parley):
    sign_in(page, parley, ANA)
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    phone = "+15555550901"
    entry = handed_off(parley, phone, "where is my parcel?")
    item = page.locator(f'.queue-list a[data-phone="{phone}"]')
    expect(item).to_be_visible()  # pushed by the event stream: the page was never reloaded
    expect(item).to_contain_text("unmatched")
    item.click()
    expect(page.get_by_role("heading", name=phone)).to_be_visible()
    lines = page.locator(".transcript .line")
    expect(lines.filter(has_text="where is my parcel?")).to_have_attribute("data-author", "subscriber")
    expect(lines.filter(has_text="Welcome to")).to_have_attribute("data-author", "automation")
    expect(page.locator(".panel .chips")).to_contain_text("interest:category_a")  # the flow's label

    page.get_by_role("button", name="Claim").click()
    expect(page.locator(".convo-meta")).to_contain_text("assigned to you")
    box = page.get_by_label(f"Reply to {phone}")
    box.fill("Hi, Ana here \U0001F600")
    expect(page.get_by_test_id("encoding")).to_have_text("UCS-2")
    box.fill("Hi, this is Ana: it ships today.")
    expect(page.get_by_test_id("segments")).to_have_text("1 segment")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    box.press("Control+Enter")
    sent = lines.filter(has_text="it ships today")
    expect(sent).to_have_attribute("data-author", "agent")
    expect(sent).to_contain_text(f"Agent {ANA}")
    wait_for(lambda: "Hi, this is Ana: it ships today." in parley.outbox(phone))

    other = chromium.new_context(viewport=LAPTOP)
    try:
        second = other.new_page()
        sign_in(second, parley, BO)
        second.goto(f"{parley.base}/console/#/inbox/{entry['id']}")
        expect(second.locator(".convo-meta")).to_contain_text(f"assigned to {ANA}")
        second.get_by_role("button", name="Claim", exact=True).click()
        expect(second.get_by_role("alert")).to_contain_text(f"assigned to '{ANA}'")
        assert parley.api("GET", f"/v1/conversations/{entry['id']}").json()["assignee"] == ANA
    finally:
        other.close()

    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status").filter(has_text="Resolved")).to_be_visible()
    expect(item).to_have_count(0)  # gone from the open queue, again without a reload
    assert parley.api("GET", f"/v1/conversations/{entry['id']}").json()["status"] != "agent"
    parley.text(phone, "SHOP")  # automation answers the subscriber again
    parley.received(phone, 4)


def test_the_reply_box_refuses_a_do_not_contact_number_with_the_reason(page, parley):
    phone = "+15555550902"
    entry = handed_off(parley, phone, "I need a person")
    assert parley.api("POST", "/v1/dnc", json={"phone": phone}).status_code == 201
    sign_in(page, parley, ANA)
    page.goto(f"{parley.base}/console/#/inbox/{entry['id']}")
    expect(page.get_by_role("alert")).to_contain_text("do-not-contact")
    expect(page.get_by_label(f"Reply to {phone}")).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()


def test_keyboard_shortcuts_move_through_the_queue_and_claim(page, parley):
    phone = "+15555550903"
    entry = handed_off(parley, phone, "hello?")
    sign_in(page, parley, BO)
    page.locator(f'.queue-list a[data-phone="{phone}"]').wait_for()
    page.goto(f"{parley.base}/console/#/inbox/{entry['id']}")
    expect(page.get_by_role("heading", name=phone)).to_be_visible()
    page.locator("body").press("c")
    expect(page.locator(".convo-meta")).to_contain_text("assigned to you")
    page.locator("body").press("r")
    expect(page.get_by_label(f"Reply to {phone}")).to_be_focused()
    page.keyboard.press("Escape")
    page.locator("body").press("u")
    expect(page.locator(".convo-meta")).to_contain_text("unassigned")


def test_the_dashboard_shows_exactly_what_the_metrics_api_says_for_its_window(page, parley):
    for n, answer in enumerate(("2", "3", "pizza")):
        phone = f"+1555555091{n}"
        parley.text(phone, "SHOP")
        parley.received(phone, 1)
        parley.text(phone, answer)
    wait_for(lambda: parley.api("GET", "/v1/metrics").json()["groups"][0]["replies"] >= 6)
    sign_in(page, parley, ANA)
    page.get_by_role("link", name="Metrics").click()

    def shown_equals_api() -> bool:
        page.get_by_role("button", name="Show").click()
        window = page.locator(".window")
        expect(window).to_be_visible()
        params = {"start": window.get_attribute("data-start"), "end": window.get_attribute("data-end")}
        (api,) = parley.api("GET", "/v1/metrics", params=params).json()["groups"]
        for name in CARDS:
            card = page.locator(f'.cards-group[data-group="all"] [data-metric="{name}"]')
            raw = card.get_attribute("data-value")
            if (None if raw == "null" else float(raw)) != api[name]:
                return False
            assert card.locator(".card-value").inner_text() == display(name, api[name])
        return api["replies"] > 0

    wait_for(shown_equals_api)  # equal by construction; retried only while receipts still land
    expect(page.locator(".chart canvas").first).to_be_visible()
    series = parley.api("GET", "/v1/metrics/series").json()
    assert sum(g["replies"] for p in series["points"] for g in p["groups"]) >= 6


def display(name: str, value) -> str:
    if value is None:
        return "—"
    if name == "delivered":
        return f"{value:,}"
    if name == "median_time_to_reply_s":  # Math.round: halves up
        return f"{int(value + 0.5)} s" if value < 90 else (f"{int(value / 60 + 0.5)} min" if value < 5400
                                                           else f"{value / 3600:.1f} h")
    return f"{value * 100:.1f}%"


def test_a_flow_is_drawn_and_its_validation_errors_show_at_their_lines(page, parley):
    sign_in(page, parley, ANA)
    page.goto(f"{parley.base}/console/#/flows/welcome")
    expect(page.locator('g.node[data-step="ask"]')).to_be_visible()
    expect(page.locator("g.edge.timeout")).to_contain_text("no reply 24h")
    expect(page.locator("g.edge.option").first).to_be_visible()
    version = parley.api("GET", "/v1/flows/welcome").json()["version"]

    page.get_by_role("tab", name="Edit YAML").click()
    editor = page.get_by_label("Definition (YAML)")
    text = editor.input_value()
    lines = text.split("\n")
    at = lines.index("  ask:") + 2  # the line after `ask:`, 1-based
    editor.fill("\n".join([*lines[:at - 1], "    max_fallbacks: 99", *lines[at - 1:]]))
    page.get_by_role("button", name="Save").click()
    error = page.locator(".yaml-error").filter(has_text="max_fallbacks")
    expect(error).to_contain_text(f"Line {at}")
    expect(page.locator(f'.gutter [data-line="{at}"]')).to_have_class(re.compile(r"\bbad\b"))
    assert parley.api("GET", "/v1/flows/welcome").json()["version"] == version  # nothing saved

    editor.fill(text)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()


def test_flows_are_deactivated_and_activated_from_the_list(page, parley):
    sign_in(page, parley, ANA)
    page.get_by_role("link", name="Flows").click()
    row = page.locator('tr[data-id="quiz"]')
    row.get_by_role("button", name="Deactivate quiz").click()
    expect(row).to_contain_text("inactive")
    assert parley.api("GET", "/v1/flows/quiz").json()["active"] is False
    row.get_by_role("button", name="Activate quiz").click()
    expect(row).not_to_contain_text("inactive")
    assert parley.api("GET", "/v1/flows/quiz").json()["active"] is True


def test_the_experiment_page_shows_the_report_and_promotes_a_variant(page, parley):
    resp = parley.api("POST", "/v1/experiments", json={
        "id": "quiz-opening", "name": "Quiz opening", "flow_id": "quiz", "step": "priority",
        "goal": "reply", "auto_promote": False, "variants": [
            {"key": "plain", "prompt": "What matters most? Reply A, B or C."},
            {"key": "warm", "prompt": "Quick question! What matters most? Reply A, B or C."}]})
    assert resp.status_code == 201, resp.text
    sign_in(page, parley, ANA)
    page.get_by_role("link", name="Experiments").click()
    page.get_by_role("link", name="Quiz opening").click()
    expect(page.locator('tr[data-variant="plain"]')).to_be_visible()
    expect(page.locator('tr[data-variant="warm"] [data-testid="prob-best"]')).to_have_text(re.compile(r"%$"))
    page.get_by_role("button", name="Promote warm").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Promote warm").click()
    expect(page.get_by_test_id("state")).to_have_text("promoted")
    expect(page.get_by_test_id("winner")).to_have_text("warm")
    assert parley.api("GET", "/v1/experiments/quiz-opening").json()["winner"] == "warm"


A11Y = """() => {
  const fields = [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden');
  const unlabelled = fields.filter((el) => !(el.labels && el.labels.length)
    && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map((el) => el.outerHTML);
  const nameless = [...document.querySelectorAll('button, a[href]')]
    .filter((el) => !(el.textContent.trim() || el.getAttribute('aria-label'))).map((el) => el.outerHTML);
  const positive = [...document.querySelectorAll('[tabindex]')].filter((el) => el.tabIndex > 0)
    .map((el) => el.outerHTML);
  return {unlabelled, nameless, positive, main: !!document.querySelector('main'),
          nav: !!document.querySelector('nav'),
          overflow: document.documentElement.scrollWidth > window.innerWidth + 1};
}"""


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_page_labels_its_fields_keeps_tab_order_and_fits_the_screen(page, parley, viewport):
    entry = handed_off(parley, f"+1555555092{viewport['width'] % 10}", "can someone help?")
    page.set_viewport_size(viewport)
    sign_in(page, parley, ANA)
    for route, ready in ((f"inbox/{entry['id']}", ".reply textarea"), ("flows", "table.list"),
                         ("flows/welcome", "svg"), ("campaigns/shop", "textarea#yaml"),
                         ("metrics", ".cards"), ("experiments", "main h1")):
        page.goto(f"{parley.base}/console/#/{route}")
        page.locator(ready).first.wait_for()
        found = page.evaluate(A11Y)
        assert found["unlabelled"] == [] and found["nameless"] == [] and found["positive"] == [], route
        assert found["main"] and found["nav"], route
        assert not found["overflow"], f"{route} scrolls sideways at {viewport['width']} px"
