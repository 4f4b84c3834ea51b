"""An httpx client for tenants' webhooks that connects only to addresses `destinations` allows.

Each new connection resolves its host once (asyncio's getaddrinfo), refuses the host if ANY of its
addresses is refused (`destinations.Refused`, raised through httpx unchanged), and opens the TCP
connection to an address it just checked: nothing resolves the name a second time, so a DNS
answer that changes between check and connect (DNS rebinding) cannot redirect it. The URL keeps
its host name, so the Host header, TLS SNI and certificate verification are all for that name.
Connections are pooled per host name (scheme, host, port), each one checked when it was opened.

Redirects are not followed, and the environment's proxies and .netrc are not used (a proxy would
connect on Parley's behalf, unchecked).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import ip_address

import httpcore
import httpx

from services.router.destinations import Refused, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to checked addresses only; `network` opens them (tests record it)."""

    def __init__(self, allow_private: bool, resolver: Resolver = resolve,
                 network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._allow_private = allow_private
        self._resolve = resolver
        self._network = network or httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            found = await asyncio.wait_for(self._resolve(host, port), timeout)
        except (OSError, TimeoutError) as exc:  # socket.gaierror is an OSError
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in found:
            if reason := refusal(ip_address(address), self._allow_private):
                raise Refused(reason if address == host else f"{host} resolves to {reason}")
        return found

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in await self._addresses(host, port, timeout):
            try:
                return await self._network.connect_tcp(address, port, timeout, local_address,
                                                       socket_options)
            except httpcore.ConnectError as exc:  # every address passed: try the next one
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise Refused("a unix socket is not a webhook destination")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        super().__init__()
        # httpx offers no way to choose the pool's network backend: the same pool, on ours.
        limits = httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=backend)


def client(allow_private: bool, *, resolver: Resolver = resolve,
           network: httpcore.AsyncNetworkBackend | None = None,
           timeout: float = 10.0) -> httpx.AsyncClient:
    """The client forwarding posts with (close it when done)."""
    backend = VettingBackend(allow_private, resolver, network)
    return httpx.AsyncClient(transport=_Transport(backend), timeout=timeout, follow_redirects=False,
                             trust_env=False)
