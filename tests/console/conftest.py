"""Fixtures of the console's browser tests: one `parley run` and one Chromium per module."""

from __future__ import annotations

import pytest

from tests.console.harness import LAPTOP, browser, running_parley


@pytest.fixture(scope="module")
def parley(tmp_path_factory):
    with running_parley(tmp_path_factory.mktemp("parley")) as instance:
        yield instance


@pytest.fixture(scope="module")
def chromium():
    with browser() as instance:
        yield instance


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context(viewport=LAPTOP)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()
