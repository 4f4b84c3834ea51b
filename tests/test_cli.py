"""The `parley` command: whatever fails (no server, a wrong URL, a refused key, an unknown tenant,
a file that cannot be read, a failing server, Ctrl-C) is one line on stderr saying what failed and
what to do, with a non-zero exit status and no traceback; an import's figures add up to the rows."""

from __future__ import annotations

import asyncio
import json
import re
import socket

import httpx
import pytest

from libs.common.testing.http import free_port, local_server
from services import cli
from services.cli import main

PHONE = "+15555550100"
HEADER = "phone,program,opted_in_at,source,consent_text\n"


async def parley(capsys, *args: str) -> tuple[int, str, str]:
    """Run `parley ARGS` as a user would (its blocking HTTP calls off the test's event loop)."""
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


SERVER_LOG = re.compile(r"^\d{4}-\d\d-\d\dT")  # the in-process test server's own log lines


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if not SERVER_LOG.match(line)]
    assert len(lines) == 1, err
    assert lines[0].startswith("parley: "), err
    return lines[0]


def answering(status: int, body: bytes, content_type: str = "application/json"):
    """An HTTP server that answers every request the same way (not Parley, or a failing one)."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


NOT_PARLEY = answering(404, b"<html><body>Welcome to nginx!</body></html>", "text/html")
DOWN = answering(503, json.dumps({"detail": "database unavailable, retry later"}).encode())
BROKEN = answering(500, b"Internal Server Error", "text/plain")


@pytest.fixture
async def served(suite, tenant):
    """Parley (tenant `acme`) on a 127.0.0.1 port: (base URL, the tenant's key, app)."""
    app, _ = suite
    async with local_server(app) as base:
        yield base, tenant["Authorization"].removeprefix("Bearer "), app


def nobody() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- parley sim send ----------------------------------------------------------------------------

async def test_sim_send_prints_what_the_phone_receives(served, capsys):
    base, _, _ = served
    code, out, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--tenant", "acme", "--url", base)
    assert code == 0, err
    assert "+15555550000 → +15555550100:" in out and "Acme Shoes" in out


async def test_sim_send_with_no_server_running_says_how_to_start_one(capsys):
    url = nobody()
    code, _, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--url", url)
    line = one_line(err)
    assert code == 1
    assert f"cannot reach Parley at {url}" in line and "parley run" in line and "--url" in line


@pytest.mark.parametrize("app, words", [
    (NOT_PARLEY, ["404", "--url"]),
    (DOWN, ["503", "database unavailable, retry later"]),
    (BROKEN, ["500", "Internal Server Error"]),
])
async def test_sim_send_to_a_wrong_or_failing_server_says_what_it_answered(capsys, app, words):
    async with local_server(app) as url:
        code, _, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--url", url)
    line = one_line(err)
    assert code == 1 and all(w in line for w in words), line


async def test_sim_send_to_an_unknown_tenant_names_it(served, capsys):
    base, _, _ = served
    code, _, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--tenant", "nobody", "--url", base)
    line = one_line(err)
    assert code == 1 and "unknown tenant 'nobody'" in line and "--tenant" in line


async def test_sim_send_with_the_simulator_off_says_so(served, capsys):
    base, _, app = served
    app.state.ctx.settings.simulator = False
    code, _, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--tenant", "acme", "--url", base)
    assert code == 1 and "the simulated carrier is off" in one_line(err)


@pytest.mark.parametrize("args, words", [
    (["sim", "send", "not-a-phone", "HELP"], ["'not-a-phone'", "phone number"]),
    (["sim", "send", PHONE, "HELP", "--to", "12"], ["--to", "'12'"]),
    (["sim", "send", PHONE, "HELP", "--url", "localhost:8080"], ["--url", "'localhost:8080'", "http://"]),
    (["import", "list.csv", "--key", "k", "--url", "ftp://example"], ["--url", "http://"]),
])
async def test_bad_arguments_are_exit_status_2_before_anything_is_sent(capsys, args, words):
    code, _, err = await parley(capsys, *args)
    line = one_line(err)
    assert code == 2 and all(w in line for w in words), line


async def test_ctrl_c_while_waiting_for_replies_stops_quietly(served, capsys, monkeypatch):
    base, _, _ = served

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", interrupted)
    code, _, err = await parley(capsys, "sim", "send", PHONE, "HELP", "--tenant", "acme", "--url", base)
    assert code == 130 and "interrupted" in one_line(err)


# --- parley import ------------------------------------------------------------------------------

def csv_file(tmp_path, rows: list[str]):
    path = tmp_path / "list.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "nonexistent.csv", ["nonexistent.csv", "no such file"]),
    (lambda d: d, ["is a directory"]),
])
async def test_import_of_a_file_that_cannot_be_read_names_it_before_calling_parley(
        capsys, tmp_path, make, words):
    code, _, err = await parley(capsys, "import", str(make(tmp_path)), "--key", "k", "--url", nobody())
    line = one_line(err)
    assert code == 1 and all(w in line for w in words), line


async def test_import_of_an_unreadable_file_says_permission_denied(capsys, tmp_path, monkeypatch):
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    real_open = type(path).open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(type(path), "open", denied)
    code, _, err = await parley(capsys, "import", str(path), "--key", "k", "--url", nobody())
    line = one_line(err)
    assert code == 1 and "cannot read" in line and "permission denied" in line.lower()


async def test_import_with_no_server_running_says_how_to_start_one(capsys, tmp_path):
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    url = nobody()
    code, _, err = await parley(capsys, "import", str(path), "--key", "k", "--url", url)
    assert code == 1 and f"cannot reach Parley at {url}" in one_line(err)


async def test_import_without_a_key_says_where_to_put_one(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("PARLEY_API_KEY", raising=False)
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    code, _, err = await parley(capsys, "import", str(path), "--url", nobody())
    line = one_line(err)
    assert code == 2 and "--key" in line and "PARLEY_API_KEY" in line


async def test_import_with_a_refused_key_says_which_key_to_check(served, capsys, tmp_path):
    base, _, _ = served
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    code, _, err = await parley(capsys, "import", str(path), "--key", "pk_wrong", "--url", base)
    line = one_line(err)
    assert code == 1 and "401" in line and "--key" in line and "PARLEY_API_KEY" in line


async def test_import_into_an_unknown_program_names_it(served, capsys, tmp_path):
    base, key, _ = served
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    code, _, err = await parley(capsys, "import", str(path), "--key", key, "--url", base,
                                "--program", "nope")
    line = one_line(err)
    assert code == 1 and "unknown program 'nope'" in line


@pytest.mark.parametrize("app, words", [
    (NOT_PARLEY, ["404", "--url"]),
    (DOWN, ["503", "database unavailable, retry later"]),
])
async def test_import_to_a_wrong_or_failing_server_says_what_it_answered(capsys, tmp_path, app, words):
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])
    async with local_server(app) as url:
        code, _, err = await parley(capsys, "import", str(path), "--key", "k", "--url", url)
    line = one_line(err)
    assert code == 1 and all(w in line for w in words), line


async def test_ctrl_c_while_following_an_import_says_it_goes_on(served, capsys, tmp_path, monkeypatch):
    base, key, _ = served
    path = csv_file(tmp_path, [f"{PHONE},default,2025-01-02T10:00:00Z,web,ok"])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", interrupted)
    code, _, err = await parley(capsys, "import", str(path), "--key", key, "--url", base)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert code == 130 and "interrupted" in last and "/v1/imports/" in last


async def test_the_import_figures_add_up_to_the_rows_of_the_file(served, capsys, tmp_path):
    """50 data rows: 40 new, 3 repeating an earlier row, 5 invalid, 2 on the do-not-contact list."""
    base, key, _ = served
    good = [f"+1555555{1000 + i},default,2025-01-02T10:00:00Z,web,ok" for i in range(40)]
    invalid = [f"not-a-phone-{i},default,2025-01-02T10:00:00Z,web,ok" for i in range(5)]
    dnc = [f"+1555555{2000 + i},default,2025-01-02T10:00:00Z,web,ok" for i in range(2)]
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        for row in dnc:
            resp = await client.post("/v1/dnc", json={"phone": row.split(",")[0]})
            assert resp.status_code == 201, resp.text
    path = csv_file(tmp_path, good[:20] + invalid + good[:3] + dnc + good[20:])

    code, out, err = await parley(capsys, "import", str(path), "--key", key, "--url", base)
    assert code == 0, err
    assert err.rstrip().split("\r")[-1].endswith("100% 50/50 rows, 7 rejected"), err
    assert out.splitlines()[0].startswith("50 rows: 40 imported, 3 unchanged, 7 rejected (job "), out


# --- parley migrate, parley run -----------------------------------------------------------------

def closed_database() -> str:
    return f"postgresql+asyncpg://parley@127.0.0.1:{free_port()}/parley"


def test_migrate_with_the_database_unreachable_names_the_setting(capsys, monkeypatch):
    monkeypatch.setenv("PARLEY_DATABASE_URL", closed_database())
    code = main(["migrate", "--wait", "0"])
    line = one_line(capsys.readouterr().err)
    assert code == 1 and "cannot migrate" in line and "PARLEY_DATABASE_URL" in line


def test_migrate_waits_for_the_database_up_to_its_limit(capsys, monkeypatch):
    monkeypatch.setenv("PARLEY_DATABASE_URL", closed_database())
    code = main(["migrate", "--wait", "1.5"])
    err = capsys.readouterr().err
    assert code == 1 and "did not answer within 1.5s" in err and "PARLEY_DATABASE_URL" in err


def test_migrate_applies_the_migrations(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PARLEY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == "migrations applied"


def test_run_on_a_port_in_use_says_so_before_starting_anything(capsys, monkeypatch, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("PARLEY_PORT", str(port))
        monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
        code = main(["run"])
    out, err = capsys.readouterr()
    line = one_line(err)
    assert code == 1 and f"127.0.0.1:{port}" in line and "in use" in line and "PARLEY_PORT" in line
    assert "Parley is running" not in out
    assert not (tmp_path / "parley.db").exists()


def test_run_with_the_database_unreachable_names_the_setting(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PARLEY_PORT", str(free_port()))
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARLEY_DATABASE_URL", closed_database())
    code = main(["run"])
    out, err = capsys.readouterr()
    line = one_line(err)
    assert code == 1 and "database" in line and "PARLEY_DATABASE_URL" in line
    assert "Parley is running" not in out


def test_ctrl_c_while_migrating_stops_with_one_line(capsys, monkeypatch, tmp_path):
    async def interrupted(engine) -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("PARLEY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setattr("libs.common.db.migrate.upgrade", interrupted)
    code = main(["migrate"])
    assert code == 130 and "interrupted" in one_line(capsys.readouterr().err)


def test_ctrl_c_while_run_is_starting_stops_it_with_one_line(capsys, monkeypatch, tmp_path):
    import signal

    async def starting(settings, client_id):
        signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C during the migrations

    monkeypatch.setenv("PARLEY_PORT", str(free_port()))
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "_open", starting)
    before = signal.getsignal(signal.SIGINT)  # an event loop of another test may own it
    code = main(["run"])
    out, err = capsys.readouterr()
    assert code == 130 and "interrupted" in one_line(err) and "Parley is running" not in out
    assert signal.getsignal(signal.SIGINT) is before  # put back
