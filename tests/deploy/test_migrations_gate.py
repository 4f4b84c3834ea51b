"""The init container script (deploy/k8s/base/wait_for_migrations.py) holds a pod until the
parley-migrate Job has brought the database to the image's migration heads, and no longer."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.deploy.support import K8S, REPO

GATE = K8S / "base" / "wait_for_migrations.py"


def run(*args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(PARLEY_DATABASE_URL=db_url, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "parley.db"
    return path, f"sqlite+aiosqlite:///{path}"


def versions(path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def set_versions(path, revisions: list[str]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM alembic_version")
        conn.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])


def test_an_empty_database_holds_the_pod(database):
    _, url = database
    result = run(str(GATE), "--once", db_url=url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "waiting for migrations" in result.stdout


def test_a_migrated_database_lets_the_pod_start(database):
    path, url = database
    assert run("-m", "services", "migrate", db_url=url).returncode == 0
    result = run(str(GATE), "--once", db_url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema ready" in result.stdout and versions(path)


def test_a_database_behind_one_head_holds_the_pod(database):
    path, url = database
    assert run("-m", "services", "migrate", db_url=url).returncode == 0
    heads = versions(path)
    set_versions(path, heads[:-1] or ["0001"])
    assert run(str(GATE), "--once", db_url=url).returncode == 1


def test_a_database_ahead_of_the_image_lets_an_older_image_start(database):
    path, url = database
    assert run("-m", "services", "migrate", db_url=url).returncode == 0
    set_versions(path, ["9999_from_a_newer_image"])
    assert run(str(GATE), "--once", db_url=url).returncode == 0


def test_an_unreachable_database_holds_the_pod_and_says_why():
    result = run(str(GATE), "--once", db_url="postgresql+asyncpg://parley@127.0.0.1:1/parley")
    assert result.returncode == 1
    assert "waiting for migrations: database at nothing (" in result.stdout
