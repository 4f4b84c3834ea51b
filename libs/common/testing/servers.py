"""The throwaway servers of scripts/ (kafka.sh, postgres.sh) driven from Python, each in a run
directory (PARLEY_RUN_DIR) of its own, so a test can stop, kill -9 and restart a Kafka broker
without touching the shared test broker other tests use. `restart` brings a server back on its
data and ports (a broker with its cluster id too), as a restarted server comes back at the same
address.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from libs.common.testing.app import eventually

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


class ScriptFailed(RuntimeError):
    def __init__(self, script: str, args: tuple[str, ...], status: int, stderr: str) -> None:
        super().__init__(f"{script} {' '.join(args)} exited {status}:\n{stderr}")
        self.status, self.stderr = status, stderr


class ServerScript:
    SCRIPT = ""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.env = {**os.environ, "PARLEY_RUN_DIR": str(run_dir)}

    async def script(self, *args: str, timeout_s: float = 240) -> str:
        """Run the script with `args`; its stdout (the env lines), or ScriptFailed."""
        proc = await asyncio.create_subprocess_exec(
            str(SCRIPTS / self.SCRIPT), *args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        if proc.returncode != 0:
            raise ScriptFailed(self.SCRIPT, args, proc.returncode, err.decode(errors="replace"))
        return out.decode()

    def env_value(self, name: str) -> str:
        lines = (self.run_dir / self.SCRIPT.replace(".sh", ".env")).read_text().split()
        return dict(line.split("=", 1) for line in lines)[name]

    async def restart(self) -> None:
        await self.script("restart")


class ScriptPostgres(ServerScript):
    SCRIPT = "postgres.sh"

    async def start(self) -> None:
        await self.script("start")

    async def stop(self) -> None:
        """Stop it and delete its data."""
        await self.script("stop", timeout_s=120)

    @property
    def url(self) -> str:
        return self.env_value("PARLEY_TEST_DATABASE_URL")


class ScriptBroker(ServerScript):
    SCRIPT = "kafka.sh"

    async def start(self, fresh: bool = False) -> None:
        await self.script("start", *(["--fresh"] if fresh else []))

    async def stop(self, keep: bool = False) -> None:
        """SIGTERM by pid (a clean shutdown); without `keep` its data is deleted too."""
        await self.script("stop", *(["--keep"] if keep else []), timeout_s=120)

    async def kill(self, wait: bool = True) -> None:
        """SIGKILL by pid, as a crashed node: no shutdown, the data as it was on disk. With `wait`,
        returns once the process is gone, its ports free."""
        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"no broker pid in {self.run_dir}")
        os.kill(pid, signal.SIGKILL)
        if not wait:
            return

        async def gone() -> bool:
            return not _alive(pid)

        await eventually(gone, timeout=60, interval=0.05)

    def pid(self) -> int | None:
        try:
            return int((self.run_dir / "kafka" / "pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def bootstrap(self) -> str:
        return self.env_value("PARLEY_TEST_KAFKA_BOOTSTRAP")

    def cluster_id(self) -> str:
        meta = (self.run_dir / "kafka" / "data" / "meta.properties").read_text().splitlines()
        return dict(line.split("=", 1) for line in meta if "=" in line)["cluster.id"]


def _alive(pid: int) -> bool:
    """Running, and not a zombie (the broker kafka.sh started is not our child to reap). A killed
    JVM's main thread turns zombie while its other threads, which hold its sockets, still exit."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except (OSError, IndexError):
        return False
    return state != b"Z" or threads > 1
