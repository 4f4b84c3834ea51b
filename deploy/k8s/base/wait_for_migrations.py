"""Init container of every Parley Deployment: wait until the database schema is at this image's heads.

The parley-migrate Job applies the migrations (`python -m services migrate`) and the services run
with PARLEY_MIGRATE_ON_START=false, so a new pod must not handle events against an older schema.
Exits 0 once every migration head of this image is applied, or when the database carries a
revision this image does not know: it is ahead (a rollback to an older image, which
expand/contract migrations keep compatible). Otherwise it says what it waits for and asks again.

    python wait_for_migrations.py           wait until ready (the init container)
    python wait_for_migrations.py --once    ask once: exit 0 if ready, 1 if not
"""

from __future__ import annotations

import asyncio
import sys
import time

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from libs.common.config import Settings
from libs.common.db.migrate import alembic_config
from libs.common.db.session import make_engine

POLL_S = 3


def image_revisions() -> tuple[set[str], set[str]]:
    """(heads, every revision) of the migrations shipped in this image."""
    script = ScriptDirectory.from_config(alembic_config())
    return set(script.get_heads()), {rev.revision for rev in script.walk_revisions()}


async def applied_revisions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_heads()))
    finally:
        await engine.dispose()


def is_ready(heads: set[str], known: set[str], applied: set[str]) -> bool:
    return heads <= applied or bool(applied - known)


def main(argv: list[str]) -> int:
    once = "--once" in argv
    heads, known = image_revisions()
    url = Settings().database_url
    while True:
        try:
            applied, problem = asyncio.run(applied_revisions(url)), ""
        except Exception as exc:  # the database may not answer yet: say so and ask again
            applied, problem = set(), f" ({type(exc).__name__})"
        if is_ready(heads, known, applied):
            print(f"schema ready: {sorted(applied)}", flush=True)
            return 0
        print(f"waiting for migrations: database at {sorted(applied) or 'nothing'}{problem}, "
              f"this image needs {sorted(heads)}", flush=True)
        if once:
            return 1
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
