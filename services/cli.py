"""The `parley` command: `parley run` (the embedded suite), `parley sim` (a phone in a terminal),
`parley import` (bulk subscriber import with a progress bar), `parley migrate` (apply database
migrations and exit, for deploy jobs)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import httpx

from libs.common.config import Settings


def _banner(settings: Settings, api_key: str | None) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"Parley is running at {base}  (bus={settings.bus}, database={settings.database_url})",
        f"  demo tenant:   demo    API key: {api_key or '(see PARLEY_DATA_DIR/demo-api-key)'}",
        "  text it:       parley sim send +15555550100 HELP",
        f"  or:            curl -s -X POST {base}/webhooks/simulator/demo/inbound \\",
        "                   -H 'content-type: application/json' \\",
        "                   -d '{\"from\": \"+15555550100\", \"to\": \"+15555550000\", \"body\": \"HELP\"}'",
        f"  the phone:     curl -s '{base}/simulator/demo/outbox?to=%2B15555550100'",
        f"  API docs:      {base}/docs     health: {base}/readyz     metrics: {base}/metrics",
        "",
    ]
    return "\n".join(lines)


def run(_: argparse.Namespace) -> int:
    import uvicorn

    from libs.common.service import build_app
    from services.embedded import all_services, embedded_settings

    settings = embedded_settings()
    app = build_app(all_services(), settings, on_started=lambda ctx: print(
        _banner(settings, ctx.state.get("demo_api_key")), flush=True))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=20)
    return 0


def sim_send(args: argparse.Namespace) -> int:
    """Text Parley as a phone would, then print what the phone receives (waits up to --wait s)."""
    base = args.url.rstrip("/")
    # The sender serves the phone's outbox: another port when the services run apart.
    outbox_url = f"{(args.outbox_url or base).rstrip('/')}/simulator/{args.tenant}/outbox"
    with httpx.Client(base_url=base, timeout=10) as client:
        before = client.get(outbox_url, params={"to": args.phone})
        if before.status_code != 200:
            print(f"cannot read the simulated phone: {before.status_code} {before.text}",
                  file=sys.stderr)
            return 1
        last = max((m["seq"] for m in before.json()), default=0)
        resp = client.post(f"/webhooks/simulator/{args.tenant}/inbound",
                           json={"from": args.phone, "to": args.to, "body": args.text,
                                 "id": uuid.uuid4().hex})
        if resp.status_code != 200:
            print(f"not accepted: {resp.status_code} {resp.text}", file=sys.stderr)
            return 1
        deadline, got = time.monotonic() + args.wait, []
        while time.monotonic() < deadline:
            got = client.get(outbox_url, params={"to": args.phone, "after": last}).json()
            if got:
                time.sleep(0.3)  # a reply may come in several messages
                got = client.get(outbox_url, params={"to": args.phone, "after": last}).json()
                break
            time.sleep(0.1)
    for message in got:
        print(f"{message['from']} → {message['to']}: {message['body']}")
    if not got:
        print("(no reply)")
    return 0


def _bar(job: dict, width: int = 30) -> str:
    done = job["rows_applied"] + job["rows_unchanged"]
    if job["status"] == "validating":
        return f"validating… {job['rows_total']:,} rows read, {job['rows_rejected']:,} rejected"
    share = 1.0 if job["status"] == "done" else (done / job["rows_valid"] if job["rows_valid"] else 0.0)
    filled = int(share * width)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} {done:,}/{job['rows_valid']:,} rows, "
            f"{job['rows_rejected']:,} rejected")


def import_file(args: argparse.Namespace) -> int:
    """Upload a subscriber CSV (streamed) and follow the import with a progress bar."""
    import os
    from pathlib import Path

    key = args.key or os.environ.get("PARLEY_API_KEY")
    if not key:
        print("an API key is needed: --key or PARLEY_API_KEY", file=sys.stderr)
        return 2
    path = Path(args.file)
    headers = {"Authorization": f"Bearer {key}", "content-type": "text/csv"}

    def chunks():
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    with httpx.Client(base_url=args.url.rstrip("/"), timeout=None) as client:
        resp = client.post("/v1/imports", headers=headers, content=chunks(),
                           params={"program": args.program, "file_name": path.name})
        if resp.status_code != 202:
            print(f"not accepted: {resp.status_code} {resp.text}", file=sys.stderr)
            return 1
        job_id = resp.json()["id"]
        while True:
            job = client.get(f"/v1/imports/{job_id}", headers=headers).json()
            print("\r" + _bar(job), end="", file=sys.stderr, flush=True)
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        print(file=sys.stderr)
        if job["status"] == "failed":
            print(f"import failed, nothing applied: {job['error']}", file=sys.stderr)
            return 1
        errors = client.get(f"/v1/imports/{job_id}/errors", headers=headers,
                            params={"limit": 20}).json()
    print(f"imported {job['rows_applied']:,}, unchanged {job['rows_unchanged']:,}, "
          f"rejected {job['rows_rejected']:,} (job {job_id})")
    for error in errors:
        print(f"  line {error['line']}: {error['reason']}")
    if job["rows_rejected"] > len(errors):
        print(f"  … GET /v1/imports/{job_id}/errors for all {job['rows_rejected']:,}")
    return 0


def migrate(_: argparse.Namespace) -> int:
    """Apply the migrations, waiting for a database that does not answer yet as a service does
    (capped back-off with jitter, a line when it is down and when it is back); exit 2 for invalid
    settings, 1 for what waiting cannot fix (a wrong password, a failing migration)."""
    from pydantic import ValidationError

    from libs.common.config import describe_errors
    from libs.common.db.migrate import upgrade
    from libs.common.db.session import make_engine
    from libs.common.observability import configure_logging
    from libs.common.startup import DATABASE, Dependencies, until_up

    try:
        settings = Settings()
    except ValidationError as exc:
        print("invalid settings:\n  " + "\n  ".join(describe_errors(exc)), file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    async def go() -> None:
        engine = make_engine(settings.database_url)
        try:
            await until_up(lambda: upgrade(engine), Dependencies((DATABASE,)), DATABASE, proves=True)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print("migrations applied", flush=True)
    return 0


def _port() -> int:
    """PARLEY_PORT for the defaults: the client commands need no valid server settings."""
    from pydantic import ValidationError

    try:
        return Settings().port
    except ValidationError:
        return 8080


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the embedded suite (all services, one port)").set_defaults(fn=run)
    sub.add_parser("migrate", help="apply database migrations and exit").set_defaults(fn=migrate)
    sim = sub.add_parser("sim", help="act as a phone on the simulated carrier")
    simsub = sim.add_subparsers(dest="sim_command", required=True)
    send = simsub.add_parser("send", help="send a text and print the replies")
    send.add_argument("phone", help="the phone's number, e.g. +15555550100")
    send.add_argument("text")
    send.add_argument("--to", default="+15555550000", help="Parley's number (demo: +15555550000)")
    send.add_argument("--tenant", default="demo")
    port = _port()
    send.add_argument("--url", default=f"http://127.0.0.1:{port}", help="where webhooks go (ingress)")
    send.add_argument("--outbox-url", help="where the sender serves /simulator (default: --url; "
                                           "services run apart: http://127.0.0.1:8082)")
    send.add_argument("--wait", type=float, default=5.0, help="seconds to wait for replies")
    send.set_defaults(fn=sim_send)
    imp = sub.add_parser("import", help="import subscribers from a CSV, with a progress bar")
    imp.add_argument("file")
    imp.add_argument("--program", default="default")
    imp.add_argument("--key", help="the tenant's API key (default: $PARLEY_API_KEY)")
    imp.add_argument("--url", default=f"http://127.0.0.1:{port}", help="the router (apart: :8081)")
    imp.set_defaults(fn=import_file)
    args = parser.parse_args(argv)
    return args.fn(args)
