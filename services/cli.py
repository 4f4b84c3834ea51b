"""The `parley` command: `parley run` (the embedded suite), `parley sim` (a phone in a terminal),
`parley import` (bulk subscriber import with a progress bar), `parley migrate` (apply database
migrations and exit, for deploy jobs).

Whatever goes wrong is one line on stderr, `parley: <what failed>; <what to do>`, and the exit
status says which kind: 1 a failure (Parley unreachable, refusing or failing; a file that cannot
be read; the port in use; the database unreachable), 2 bad usage, 130 Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from libs.common.config import Settings

FAILED, USAGE, INTERRUPTED = 1, 2, 130


class Failure(Exception):
    """What the user is told, in one line, and the exit status."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def _reason(exc: BaseException) -> str:
    """An exception's own first line (SQLAlchemy wraps the driver's; OSError has strerror)."""
    exc = getattr(exc, "orig", None) or exc
    text = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).strip()
    text = re.sub(r"^\[Errno -?\d+\] ", "", text)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _masked(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True) if url else "(none)"


# --- talking to a running Parley ----------------------------------------------------------------

class Parley:
    """HTTP calls to a running Parley; a refused connection, a timeout or an error answer
    becomes a `Failure` saying what happened and what to check."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise Failure(f"--url {url!r} is not a URL: give http://host:port (default "
                          f"http://127.0.0.1:{Settings().port})", USAGE)
        self.base = url.rstrip("/")
        self._http = httpx.Client(base_url=self.base, headers=headers, timeout=timeout)

    def __enter__(self) -> Parley:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise Failure(f"cannot reach Parley at {self.base} ({_reason(exc)}): is it running? Start "
                          "it with `parley run`, or point --url at it") from None
        except httpx.TimeoutException:
            raise Failure(f"Parley at {self.base} did not answer in time: try again, or check "
                          "--url") from None
        except httpx.HTTPError as exc:
            raise Failure(f"talking to Parley at {self.base} failed: {_reason(exc)}") from None
        if not resp.is_success:
            raise Failure(self._refusal(resp, path))
        return resp

    def json(self, method: str, path: str, **kwargs):
        resp = self.call(method, path, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise Failure(f"{self.base}{path} did not answer like Parley (not JSON): is --url "
                          "Parley's address?") from None

    def _refusal(self, resp: httpx.Response, path: str) -> str:
        detail = _detail(resp)
        code = resp.status_code
        if code == 401:
            return f"the API key was refused (401: {detail or 'unauthorized'}): check --key or PARLEY_API_KEY"
        if code == 404 and detail in (None, "Not Found"):
            return (f"{self.base} has nothing at {path} (404): is --url the address of Parley (and, "
                    "split into services, of the one serving it)?")
        if code == 404 and detail.startswith("unknown tenant"):
            return f"{detail} (404): check --tenant"
        if code >= 500:
            return f"Parley at {self.base} answered {code}: {detail or resp.reason_phrase}"
        return f"{detail or resp.reason_phrase} ({code})"


def _detail(resp: httpx.Response) -> str | None:
    """FastAPI's `detail` (a string, or 422's list of field errors), on one line."""
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        text = " ".join(resp.text.split())
        return text[:200] if text and "<" not in text else None
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                           for e in detail if isinstance(e, dict))
    return " ".join(str(detail).split())[:300] if detail else None


# --- parley run / migrate -----------------------------------------------------------------------

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
        f"  console:       {base}/console  (sign in with the API key above)",
        f"  API docs:      {base}/docs     health: {base}/readyz     metrics: {base}/metrics",
        "",
    ]
    return "\n".join(lines)


def _check_port(host: str, port: int) -> None:
    """Fail before anything starts when the port is taken (uvicorn binds only after startup)."""
    import socket

    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as exc:
        raise Failure(f"cannot listen on {host}:{port}: {_reason(exc).lower()} (is another Parley "
                      "running?): stop it, or set PARLEY_PORT") from None


async def _open(settings: Settings, client_id: str):
    from libs.common.bus import BusUnavailable
    from libs.common.service import open_ctx

    try:
        return await open_ctx(settings, client_id=client_id)
    except BusUnavailable as exc:
        raise Failure(_reason(exc)) from None
    except Exception as exc:  # the database: unreachable, refused, or its migrations failed
        raise Failure(f"cannot open the database {_masked(settings.database_url)}: {_reason(exc)}; "
                      "check PARLEY_DATABASE_URL") from None


@contextlib.contextmanager
def _stopping(stop) -> Iterator[None]:
    import signal

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(_: argparse.Namespace) -> int:
    import uvicorn
    import uvloop

    from libs.common import streams
    from libs.common.service import FAST_HTTP, build_app, close_ctx
    from services.embedded import all_services, embedded_settings

    settings = embedded_settings()
    _check_port(settings.host, settings.port)
    services = all_services()
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        ctx = await _open(settings, "parley-" + "+".join(s.name for s in services))
        try:
            app = build_app(services, ctx=ctx, on_started=lambda c: print(
                _banner(settings, c.state.get("demo_api_key")), flush=True))
            servers.append(streams.Server(uvicorn.Config(
                app, host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=20, **FAST_HTTP)))
            await servers[0].serve()
        finally:
            await close_ctx(ctx)

    def stop(signum: int, frame: object) -> None:
        # Once serving, Ctrl-C or SIGTERM stop the server gracefully (uvicorn re-raises the signal
        # it caught after its shutdown: that lands here and changes nothing); before, they stop
        # the start.
        if not servers:
            raise KeyboardInterrupt
        servers[0].should_exit = True

    with _stopping(stop):
        uvloop.run(serve())
    if not servers[0].started:
        raise Failure("Parley did not start: the log above says why")
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Apply the migrations. A database that does not answer yet is waited for as a service waits
    (capped back-off with jitter, a line when it is down and when it is back), up to `--wait`
    seconds; what waiting cannot fix (a wrong password, a failing migration) fails at once."""
    from pydantic import ValidationError

    from libs.common.config import describe_errors
    from libs.common.db.migrate import upgrade
    from libs.common.db.session import make_engine
    from libs.common.observability import configure_logging
    from libs.common.startup import DATABASE, Dependencies, until_up

    try:
        settings = Settings()
    except ValidationError as exc:
        raise Failure("invalid settings:\n  " + "\n  ".join(describe_errors(exc)), USAGE) from None
    configure_logging(settings.log_format, settings.log_level)
    url = settings.database_url

    async def go() -> None:
        engine = make_engine(url)
        try:
            async with asyncio.timeout(args.wait or None):
                await until_up(lambda: upgrade(engine), Dependencies((DATABASE,)), DATABASE,
                               proves=True, wait=args.wait > 0)
        finally:
            await engine.dispose()

    try:
        asyncio.run(go())
    except TimeoutError:
        raise Failure(f"cannot migrate the database {_masked(url)}: it did not answer within "
                      f"{args.wait:g}s; check PARLEY_DATABASE_URL") from None
    except Exception as exc:
        raise Failure(f"cannot migrate the database {_masked(url)}: {_reason(exc)}; check "
                      "PARLEY_DATABASE_URL") from None
    print("migrations applied", flush=True)
    return 0


# --- parley sim send ----------------------------------------------------------------------------

def _phone(raw: str, what: str) -> str:
    from libs.common.phone import InvalidPhone, to_e164

    try:
        return to_e164(raw)
    except InvalidPhone as exc:
        raise Failure(f"{what} {raw!r} is not a phone number ({exc})", USAGE) from None


def _last_seq(parley: Parley, outbox_url: str, phone: str) -> int:
    """The phone's newest message in the handset log (read a page at a time)."""
    last = 0
    while page := parley.json("GET", outbox_url, params={"to": phone, "after": last}):
        last = page[-1]["seq"]
    return last


def sim_send(args: argparse.Namespace) -> int:
    """Text Parley as a phone would, then print what the phone receives (waits up to --wait s)."""
    phone, to = _phone(args.phone, "the phone"), _phone(args.to, "--to")
    # The sender serves the phone's outbox: another address when the services run apart.
    outbox_url = f"{(args.outbox_url or args.url).rstrip('/')}/simulator/{args.tenant}/outbox"
    with Parley(args.url) as parley:
        last = _last_seq(parley, outbox_url, phone)
        parley.call("POST", f"/webhooks/simulator/{args.tenant}/inbound",
                    json={"from": phone, "to": to, "body": args.text, "id": uuid.uuid4().hex})
        deadline, got = time.monotonic() + args.wait, []
        while time.monotonic() < deadline:
            got = parley.json("GET", outbox_url, params={"to": phone, "after": last})
            if got:
                time.sleep(0.3)  # a reply may come in several messages
                got = parley.json("GET", outbox_url, params={"to": phone, "after": last})
                break
            time.sleep(0.1)
    for message in got:
        print(f"{message['from']} → {message['to']}: {message['body']}")
    if not got:
        print("(no reply)")
    return 0


# --- parley import ------------------------------------------------------------------------------

def _processed(job: dict) -> int:
    """Rows the job is done with: every data row ends imported, unchanged or rejected."""
    return job["rows_applied"] + job["rows_unchanged"] + job["rows_rejected"]


def _bar(job: dict, width: int = 30) -> str:
    if job["status"] == "validating":
        return f"validating… {job['rows_total']:,} rows read, {job['rows_rejected']:,} rejected"
    total, done = job["rows_total"], _processed(job)
    share = 1.0 if job["status"] == "done" else (done / total if total else 0.0)
    filled = int(share * width)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} {done:,}/{total:,} rows, "
            f"{job['rows_rejected']:,} rejected")


def _summary(job: dict) -> str:
    return (f"{job['rows_total']:,} rows: {job['rows_applied']:,} imported, "
            f"{job['rows_unchanged']:,} unchanged, {job['rows_rejected']:,} rejected (job {job['id']})")


def _open_file(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise Failure(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise Failure(f"cannot read {path}: it is a directory; give the CSV file's path") from None
    except OSError as exc:
        raise Failure(f"cannot read {path}: {_reason(exc).lower()}") from None


def _upload(parley: Parley, f: IO[bytes], path: Path, program: str) -> str:
    def chunks():
        while chunk := f.read(1 << 20):
            yield chunk

    try:
        return parley.json("POST", "/v1/imports", content=chunks(),
                           params={"program": program, "file_name": path.name})["id"]
    except OSError as exc:
        raise Failure(f"cannot read {path}: {_reason(exc).lower()}") from None
    except KeyboardInterrupt:
        raise Failure("interrupted during the upload: nothing was imported", INTERRUPTED) from None


def _follow(parley: Parley, job_id: str) -> dict:
    try:
        while True:
            job = parley.json("GET", f"/v1/imports/{job_id}")
            print("\r" + _bar(job), end="", file=sys.stderr, flush=True)
            if job["status"] in ("done", "failed"):
                print(file=sys.stderr)
                return job
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        raise Failure(f"interrupted: the import goes on in Parley; follow it with GET "
                      f"/v1/imports/{job_id}", INTERRUPTED) from None


def import_file(args: argparse.Namespace) -> int:
    """Upload a subscriber CSV (streamed) and follow the import with a progress bar."""
    import os

    key = args.key or os.environ.get("PARLEY_API_KEY")
    if not key:
        raise Failure("an API key is needed: pass --key or set PARLEY_API_KEY", USAGE)
    path = Path(args.file)
    headers = {"Authorization": f"Bearer {key}", "content-type": "text/csv"}
    with Parley(args.url, headers, timeout=60.0) as parley:
        with _open_file(path) as f:
            job_id = _upload(parley, f, path, args.program)
        job = _follow(parley, job_id)
        if job["status"] == "failed":
            raise Failure(f"the import failed, nothing was applied: {job['error']}")
        errors = parley.json("GET", f"/v1/imports/{job_id}/errors", params={"limit": 20})
    print(_summary(job))
    for error in errors:
        print(f"  line {error['line']}: {error['reason']}")
    if job["rows_rejected"] > len(errors):
        print(f"  … GET /v1/imports/{job_id}/errors for all {job['rows_rejected']:,}")
    return 0


def _port() -> int:
    """PARLEY_PORT for the defaults: the client commands need no valid server settings."""
    from pydantic import ValidationError

    try:
        return Settings().port
    except ValidationError:
        return 8080


# --- the command line ---------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parley", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the embedded suite (all services, one port)").set_defaults(fn=run)
    mig = sub.add_parser("migrate", help="apply database migrations and exit")
    mig.add_argument("--wait", type=float, default=300.0, help=(
        "seconds to wait for a database that does not answer yet (0: fail at once)"))
    mig.set_defaults(fn=migrate)
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
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except Failure as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("parley: interrupted", file=sys.stderr)
        return INTERRUPTED
