"""The throwaway servers of scripts/ (kafka.sh, postgres.sh) driven from Python, each in a run
directory (PARLEY_RUN_DIR) of its own, so a test can stop, kill -9 and restart a Kafka broker
without touching the shared test broker other tests use. `restart` brings a server back on its
data and ports (a broker with its cluster id too), as a restarted server comes back at the same
address. Also a TCP gate that makes a server unreachable and reachable again, and the broker's view
of a group.
"""

from __future__ import annotations

import asyncio
import contextlib
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


class TcpGate:
    """A TCP forwarder on 127.0.0.1:`port` to `target`, forwarding or refusing. Refusing, it
    resets every connection at once (the ones open and each new one, counted in `refused`), as a
    server that went away; forwarding again, it is the server come back. It runs on the test's
    event loop, so the test must await (not sleep) while traffic should flow."""

    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self.forwarding = False
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task] = set()

    async def listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def forward(self) -> None:
        self.forwarding = True

    def refuse(self) -> None:
        self.forwarding = False
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        self.refuse()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def __aenter__(self) -> TcpGate:
        await self.listen()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.forwarding:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(dst)
            with contextlib.suppress(Exception):
                dst.transport.abort()


def describe_groups_v2(groups: list[str]):
    """A DescribeGroups request pinned to v2: aiokafka 0.14 decodes a v3 answer with the v2
    schema, which fails as soon as a group has members."""
    from aiokafka.protocol.admin import DescribeGroupsRequest_v2
    from aiokafka.protocol.api import Request

    class DescribeGroupsV2(Request[DescribeGroupsRequest_v2]):
        API_KEY = 15

        def build(self, request_struct_class):
            return request_struct_class(groups)

    return DescribeGroupsV2()


async def group_members(admin, groups: list[str]) -> dict[str, tuple[str, list[tuple[str, set[int]]]]]:
    """{group: (state, [(member id, partitions it holds)])}, as the broker sees them (one broker:
    it coordinates every group)."""
    from aiokafka.coordinator.protocol import ConsumerProtocol

    node = await admin.find_coordinator(groups[0])
    response = await admin._client.send(node, describe_groups_v2(groups))
    out = {}
    for group_id, state, members in ((g[1], g[2], g[5]) for g in response.groups):
        out[group_id] = (state, [
            (m[0], {p for _, parts in ConsumerProtocol.ASSIGNMENT.decode(m[4]).assignment for p in parts}
             if m[4] else set()) for m in members])
    return out
