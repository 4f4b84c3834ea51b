"""Tracked links: placeholders become unique, unguessable short links, with tags and expiry."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from services.sender.links import BadPlaceholder, new_code, rewrite, validate

BASE = "https://go.example"


def counter():
    n = itertools.count(1)
    return lambda: f"c{next(n)}"


def test_a_placeholder_becomes_a_short_link():
    text, links = rewrite("Shoes! {link:https://shop.example/shoes?utm=sms} Reply STOP to opt out", BASE,
                          counter())
    assert text == "Shoes! https://go.example/l/c1 Reply STOP to opt out"
    assert [(x.code, x.url, x.tag, x.ttl) for x in links] == [("c1", "https://shop.example/shoes?utm=sms",
                                                               None, None)]


def test_tags_and_expiry_are_read_and_the_same_link_twice_shares_a_code():
    body = "{link:https://a.example|tag=shoe-offer|ttl=4h} or {link:https://b.example} {link:https://a.example|tag=shoe-offer|ttl=4h}"
    text, links = rewrite(body, BASE + "/", counter())
    assert text == "https://go.example/l/c1 or https://go.example/l/c2 https://go.example/l/c1"
    assert [(x.url, x.tag, x.ttl) for x in links] == [("https://a.example", "shoe-offer", timedelta(hours=4)),
                                                      ("https://b.example", None, None)]


def test_text_without_placeholders_is_untouched():
    assert rewrite("no links {brand} here", BASE) == ("no links {brand} here", [])


@pytest.mark.parametrize("body", ["{link:ftp://x.example}", "{link:https://a b}", "{link:https://x.example",
                                  "{link:https://x.example|colour=red}", "{link:https://x.example|ttl=soon}"])
def test_malformed_placeholders_are_refused(body):
    with pytest.raises(BadPlaceholder):
        validate(body)


def test_codes_are_unguessable_url_safe_and_fit_the_link_table():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{12}", c) for c in codes)
