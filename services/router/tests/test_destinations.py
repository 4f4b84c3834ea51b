"""Which webhook destinations are refused, judged without any network: every address a host
resolves to (`refusal`), and what a URL says before it is resolved (`url_refusal`)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from services.router.destinations import is_placeholder, refusal, url_refusal

# (address, refused by default because, still refused with PARLEY_WEBHOOK_ALLOW_PRIVATE)
ADDRESSES = [
    ("169.254.169.254", "cloud metadata", True),
    ("169.254.1.1", "link-local", True),
    ("fe80::1", "link-local", True),
    ("127.0.0.1", "loopback", False),
    ("127.255.0.9", "loopback", False),
    ("::1", "loopback", False),
    ("::ffff:127.0.0.1", "loopback", False),
    ("::ffff:169.254.169.254", "cloud metadata", True),
    ("::ffff:10.0.0.1", "private", False),
    ("64:ff9b::a9fe:a9fe", "cloud metadata", True),  # NAT64 of 169.254.169.254
    ("64:ff9b::7f00:1", "loopback", False),
    ("2002:a9fe:a9fe::", "cloud metadata", True),  # 6to4 of 169.254.169.254
    ("0.0.0.0", "unspecified", True),
    ("::", "unspecified", True),
    ("10.1.2.3", "private", False),
    ("172.16.0.1", "private", False),
    ("172.31.255.254", "private", False),
    ("192.168.1.1", "private", False),
    ("100.64.0.1", "private", False),  # CGNAT, shared address space
    ("100.100.100.200", "cloud metadata", True),
    ("fd00:ec2::254", "cloud metadata", True),
    ("fd12:3456::1", "private", False),
    ("224.0.0.1", "multicast", True),
    ("239.255.255.250", "multicast", True),
    ("ff02::1", "multicast", True),
    ("255.255.255.255", "not a public", True),
    ("192.0.2.10", "not a public", True),  # documentation
    ("198.18.0.1", "not a public", True),  # benchmarking
    ("240.0.0.1", "not a public", True),  # reserved
    ("::7f00:1", "not a public", True),  # IPv4-compatible, deprecated
    ("2001:db8::1", "not a public", True),
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111",
          "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address, why, always", ADDRESSES, ids=[a[0] for a in ADDRESSES])
def test_internal_addresses_are_refused_and_only_private_ones_can_be_allowed(address, why, always):
    reason = refusal(ip_address(address), allow_private=False)
    assert reason is not None and why in reason and reason.startswith(str(ip_address(address)))
    allowed = refusal(ip_address(address), allow_private=True)
    assert (allowed is not None) == always, allowed


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert refusal(ip_address(address), allow_private=False) is None


URLS = [
    ("http://169.254.169.254/latest", "169.254.169.254 is a cloud metadata address"),
    ("ftp://hooks.acme.com/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://hooks.acme.com/", "only http and https"),
    ("https://user:pass@hooks.acme.com/x", "user name or password"),
    ("https://hooks.acme.com@127.0.0.1/x", "user name or password"),
    ("http://localhost:8080/admin", "localhost is a loopback address"),
    ("http://LOCALHOST./", "localhost is a loopback address"),
    ("http://db.localhost/", "localhost is a loopback address"),
    ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
    ("http://127.1/", "127.0.0.1 is a loopback address"),
    ("http://2130706433/", "127.0.0.1 is a loopback address"),
    ("http://0x7f.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://0/", "0.0.0.0 is an unspecified address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 (127.0.0.1) is a loopback address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
    ("http:///nohost", "no host"),
]


@pytest.mark.parametrize("url, reason", URLS, ids=[u[0] for u in URLS])
def test_urls_that_cannot_be_public_destinations_are_refused_before_any_lookup(url, reason):
    got = url_refusal(url, allow_private=False)
    assert got is not None and reason in got, got


def test_private_setting_allows_localhost_and_private_literals_but_not_metadata():
    assert url_refusal("http://localhost:9000/hook", allow_private=True) is None
    assert url_refusal("http://10.0.0.5/hook", allow_private=True) is None
    assert "cloud metadata" in url_refusal("http://169.254.169.254/", allow_private=True)
    assert "user name" in url_refusal("http://a:b@10.0.0.5/", allow_private=True)


@pytest.mark.parametrize("url", ["https://hooks.acme.com/parley", "http://hooks.acme.com:8443/x?a=1",
                                 "https://support.example/hooks/parley", "https://93.184.216.34/x",
                                 "https://[2606:4700:4700::1111]/x"])
def test_public_looking_urls_are_accepted_at_save_time(url):
    assert url_refusal(url, allow_private=False) is None


@pytest.mark.parametrize("host, placeholder", [
    ("support.example", True), ("EXAMPLE", True), ("a.b.invalid", True), ("example.com", True),
    ("hooks.example.org.", True), ("www.example.net", True), ("example.company.com", False),
    ("myexample.com", False), ("hooks.acme.com", False), ("example.test", False),
])
def test_placeholder_hosts_are_the_names_reserved_never_to_resolve(host, placeholder):
    assert is_placeholder(host) == placeholder
