"""Where a tenant's webhooks may be sent: public http(s) addresses only. Pure.

A webhook URL is the tenant's to choose, so without these rules a flow could make Parley POST to
its own network: the cloud metadata service (169.254.169.254), a database admin page on
localhost, a neighbour in the cluster. `url_refusal` judges what is known when a definition is
saved (scheme, user info, a literal address, `localhost`); `refusal` judges every address a host
resolves to when the webhook is delivered (forwarding.py connects only to addresses it passed).

Refused: loopback, private (RFC 1918, CGNAT 100.64/10, IPv6 ULA fc00::/7), link-local,
multicast, unspecified and every other non-global range (documentation, benchmarking, reserved,
broadcast), judged on the IPv4 address inside IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4
addresses. `allow_private` (PARLEY_WEBHOOK_ALLOW_PRIVATE, for receivers on the operator's own
network) lets loopback and private addresses through; link-local, multicast, unspecified,
reserved and the cloud metadata addresses stay refused.

Hosts under names reserved never to resolve (RFC 2606 / RFC 6761: `.example`, `.invalid`,
example.com/.net/.org) are placeholders: a shipped playbook uses one, and its deliveries are skipped
rather than tried.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import httpx

Address = IPv4Address | IPv6Address

# Cloud metadata services: AWS/GCP/Azure (link-local anyway), AWS over IPv6 (inside fc00::/7),
# Alibaba (inside CGNAT). Refused even where private addresses are allowed.
METADATA = frozenset(ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
PRIVATE = tuple(ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                        "100.64.0.0/10", "fc00::/7"))
NAT64 = ip_network("64:ff9b::/96")
PLACEHOLDER_TLDS = ("example", "invalid")
PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
ALLOW_HINT = "PARLEY_WEBHOOK_ALLOW_PRIVATE allows receivers on a private network"


class Refused(Exception):
    """A destination Parley does not send webhooks to: a permanent failure, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_v4(ip: Address) -> IPv4Address | None:
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def refusal(ip: Address, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `ip`, or None if it may."""
    embedded = _embedded_v4(ip)
    judged = embedded or ip
    name = f"{ip} ({embedded})" if embedded else str(ip)
    if judged in METADATA:
        return f"{name} is a cloud metadata address"
    for kind, hit in (("an unspecified", judged.is_unspecified), ("a multicast", judged.is_multicast),
                      ("a link-local", judged.is_link_local)):
        if hit:
            return f"{name} is {kind} address"
    if judged.is_loopback or any(judged in net for net in PRIVATE):
        kind = "loopback" if judged.is_loopback else "private"
        return None if allow_private else f"{name} is a {kind} address ({ALLOW_HINT})"
    if not judged.is_global or judged.is_reserved:
        return f"{name} is not a public address"
    return None


def _literal(host: str) -> Address | None:
    """The address a host names literally, including the old IPv4 spellings resolvers still
    accept (127.1, 0x7f.0.0.1, 2130706433)."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host.lower()):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def url_refusal(url: str, allow_private: bool) -> str | None:
    """Why `url` may not be a webhook destination, judged without resolving it, or None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL: {exc}"
    host = parsed.host.rstrip(".")
    if parsed.scheme not in ("http", "https"):
        return "only http and https URLs can receive webhooks"
    if not host:
        return "the URL has no host"
    if parsed.userinfo:
        return "the URL must not carry a user name or password (sign deliveries with `secret`)"
    if (ip := _literal(host)) is not None:
        return refusal(ip, allow_private)
    if (host == "localhost" or host.endswith(".localhost")) and not allow_private:
        return f"localhost is a loopback address ({ALLOW_HINT})"
    return None


def is_placeholder(host: str) -> bool:
    """Whether `host` is under a name reserved never to resolve (RFC 2606, RFC 6761)."""
    name = host.rstrip(".").lower()
    return (name.rsplit(".", 1)[-1] in PLACEHOLDER_TLDS
            or any(name == d or name.endswith("." + d) for d in PLACEHOLDER_DOMAINS))
