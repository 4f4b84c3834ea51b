"""Screenshots of the console's main pages for the README: `make screenshots` (or
`.venv/bin/python -m tests.console.screenshots`) starts `parley run` with its demo, gives it a
little traffic (a few subscribers through the welcome flow, one handed to the desk, an
experiment), and saves docs/console/{inbox,flow,metrics,experiment,phone}.png from Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.console.harness import LAPTOP, PHONE, REPO, browser, running_parley, sign_in

OUT = REPO / "docs" / "console"


def traffic(parley) -> dict:
    """The demo as a marketer would see it after a morning: replies, a label, a hand-off."""
    assert parley.api("PATCH", "/v1/tenants/demo", json={"fallback_to_agent": True}).status_code == 200
    for n, answer in enumerate(("1", "2", "1", "3")):
        phone = f"+1555555070{n}"
        parley.text(phone, "SHOP")
        parley.received(phone, 1)
        parley.text(phone, answer)
        parley.received(phone, 2)
    parley.text("+15555550700", "do you ship to Canada?")
    resp = parley.api("POST", "/v1/experiments", json={
        "id": "quiz-opening", "name": "Quiz opening", "flow_id": "quiz", "step": "priority",
        "goal": "reply", "auto_promote": False, "variants": [
            {"key": "plain", "prompt": "What matters most? Reply A, B or C."},
            {"key": "warm", "prompt": "Quick question! What matters most? Reply A, B or C."}]})
    assert resp.status_code in (201, 409), resp.text
    return parley.queued("+15555550700")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_parley(Path(tmp)) as parley, browser() as chromium:
        entry = traffic(parley)
        context = chromium.new_context(viewport=LAPTOP)
        page = context.new_page()
        sign_in(page, parley, "ana@acme.test")
        # what each page shows once its data is in (the inbox's event stream never lets the
        # network go idle, so each waits for its own content)
        shots = {
            "inbox": (f"#/inbox/{entry['id']}", ".transcript .line"),
            "flow": ("#/flows/welcome", "svg"),
            "metrics": ("#/metrics", "[data-metric]"),
            "experiment": ("#/experiments/quiz-opening", 'tr[data-variant="warm"]'),
        }
        for name, (route, ready) in shots.items():
            page.goto(f"{parley.base}/console/{route}")
            page.locator(ready).first.wait_for()
            page.wait_for_timeout(800)  # charts and diagrams finish drawing
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        phone = chromium.new_context(viewport=PHONE)
        small = phone.new_page()
        sign_in(small, parley, "ana@acme.test")
        small.goto(f"{parley.base}/console/#/inbox/{entry['id']}")
        small.locator(".transcript .line").first.wait_for()
        small.wait_for_timeout(800)
        small.screenshot(path=str(OUT / "phone.png"))
        print(f"wrote {OUT / 'phone.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
